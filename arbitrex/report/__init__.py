"""The broker report: who leads whom by how many ms, whose clock is wrong, whose feed
freezes, and which edges paid, from the history (the store and the archive).

    import arbitrex.report
    figures = arbitrex.report.figures(symbols=["EURUSD"], start="2026-11-20")
    for lead in figures["lead"]:
        print(lead["leader"], "leads", lead["follower"], "by", lead["lead_ms"], "ms")

``figures`` returns what ``arbitrex report --json`` prints; ``lead_lag`` estimates the
lead between two series of mid prices on its own. ``study.py`` is the one pass over the
ticks (pure), ``leadlag.py`` and ``clocks.py`` its estimators, ``page.py`` the HTML.
"""

from __future__ import annotations

from arbitrex.report.figures import figures
from arbitrex.report.leadlag import Lead, lead_lag

__all__ = ["Lead", "figures", "lead_lag"]
