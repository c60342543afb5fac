"""The replay engine: ``plan.py`` (merge order and the speed schedule, pure) and ``feed.py``
(the runners that deliver a schedule into a store or to the replay server)."""
