"""scripts/bench.py's parts: ``harness`` (what every figure uses), a module per figure, and
``report`` (the Markdown report)."""
