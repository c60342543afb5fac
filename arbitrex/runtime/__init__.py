"""Mechanisms every engine and command shares, each written once: ``backoff.py`` (capped,
jittered retry delays) and ``stop.py`` (how a process stops on signals, on every OS)."""
