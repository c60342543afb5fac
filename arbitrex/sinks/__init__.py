"""Sinks: where stored ticks go next. A sink is a callable taking the ticks just stored."""
