"""The archive: whole old UTC days of the store, moved to Parquet files in a hive layout
(``layout.py``: paths and day arithmetic, pure; ``files.py``: day files written, verified
and read; ``mover.py``: the move, safe against a crash at any step)."""
