"""Mechanisms every engine and command shares, each written once: ``backoff.py`` (capped,
jittered retry delays), ``stop.py`` (how a process stops on signals, on every OS) and
``loops.py`` (which event loop runs the servers); ``memtrace.py`` (where a server's memory
goes, when asked)."""
