"""The collect engine: ``loop.py`` (source -> store), ``metrics.py`` (its Prometheus
endpoint), ``supervisor.py`` (one worker process per MT5 terminal)."""
