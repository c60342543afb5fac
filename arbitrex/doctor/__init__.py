"""The doctor engine: ``checks.py`` (every check, in order), ``stores.py`` (the store's),
``mt5.py`` (each MetaTrader 5 venue's), ``report.py`` (a check's result). Pure reporting:
nothing is changed."""
