"""Tick stores. Each implements ``TickStore`` (base.py) in a module of its own."""

from arbitrex.stores.base import TickStore, open_store

__all__ = ["TickStore", "open_store"]
