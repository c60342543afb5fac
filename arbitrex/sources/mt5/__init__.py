"""The MetaTrader 5 source: ``cursor.py`` (where a poll stands, pure), ``terminal.py`` (the
one lock around the package and the classification of its errors), ``source.py`` (polling
and reconnecting), ``venues.py`` (one terminal per venue, from ``arbitrex.toml``)."""
