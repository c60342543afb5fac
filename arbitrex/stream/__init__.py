"""Streaming ticks to WebSocket clients: protocol (pure), session (pure), hub and server (I/O)."""
