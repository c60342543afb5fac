"""Episodes: when a cross-venue edge is real money (after costs), for how long, and who
closes it. ``engine.py`` makes them from ticks, without I/O; the same engine serves history
and live."""
