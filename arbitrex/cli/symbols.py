"""Symbols asked for that the store does not hold: one line naming what it holds, with the
likely one (``tail eurusd`` -> EURUSD)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

__all__ = ["missing_note", "suggestion"]


def suggestion(symbol: str, held: Sequence[str]) -> str | None:
    """The held symbol ``symbol`` most likely means: the same but for case, else a close one."""
    by_upper = {h.upper(): h for h in held}
    if symbol.upper() in by_upper:
        return by_upper[symbol.upper()]
    close = difflib.get_close_matches(symbol.upper(), list(by_upper), n=1, cutoff=0.75)
    return by_upper[close[0]] if close else None


def missing_note(wanted: Iterable[str], held: Iterable[str]) -> str | None:
    """None when the store holds every wanted symbol, else a line saying which it lacks and
    what it holds."""
    have = sorted(set(held))
    missing = [s for s in dict.fromkeys(wanted) if s not in have]
    if not missing:
        return None
    named = []
    for symbol in missing:
        guess = suggestion(symbol, have)
        named.append(f"{symbol} (did you mean {guess}?)" if guess else symbol)
    holds = ", ".join(have) if have else "no ticks yet"
    return f"no ticks stored for {', '.join(named)}; the store holds {holds}"
