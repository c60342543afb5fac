"""Who leads whom: how many milliseconds one venue's mid price trails another's, on the
receive clock. Pure (numpy), no I/O.

The estimator is the cross-correlation of the two venues' mid-price changes over lags in
1 ms steps: C(θ) = Σ ΔA(t) · ΔB(t + θ), summed over every pair of changes at most
``max_lag_ms`` apart. Only changes count (a mid that did not move adds nothing to a
product), so it is computed over pairs of change events rather than over a 1 ms grid: the
same sum, at a cost that grows with the events, not with the length of the range. Both
venues quote one underlying: the same move shows at the follower ``lead`` ms after the
leader, so C peaks at θ = lead. C is smoothed over ±``smooth_ms`` (the venues' reads come
in batches, which spread the peak), its highest point taken, and the estimate read at the
centre of the correlation around it (a flat top is not read at its edge).

The changes are taken in windows of ``window_ms`` (a minute by default; the pass over the
history never holds more than one window), their correlations summed. How sure the
estimate is (``confidence``) is the share of windows that held enough changes of both
venues whose own peak is within ``agree_ms`` of the estimate: 1.0 when every minute tells
the same story, near 1 / (the number of possible answers) when the peak is noise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["Lead", "LeadLag", "lead_lag"]

# Limits
MAX_LAG_MS = 3000  # leads beyond 3 s are not looked for
SMOOTH_MS = 5
AGREE_MS = 15
MIN_CHANGES = 10  # a window with fewer changes of either venue gives no opinion


class Lead(NamedTuple):
    """``follower``'s mid trails ``leader``'s by ``lead_ms`` (>= 0)."""

    leader: str
    follower: str
    lead_ms: float
    confidence: float  # 0..1: the share of windows that agree (see the module)
    correlation: float  # the smoothed peak of the normalised cross-correlation, -1..1
    windows: int  # windows that gave an opinion


def _smooth(c: np.ndarray, half: int) -> np.ndarray:
    if half <= 0:
        return c
    kernel = np.ones(2 * half + 1)
    return np.convolve(c, kernel, mode="same")


def _peak(c: np.ndarray, half: int) -> int:
    """Where ``c`` peaks: the highest point of it smoothed over ±``half``, then the centre of
    the raw mass around it (a flat top is not read at its left edge)."""
    smoothed = _smooth(c, half)
    top = int(smoothed.argmax())
    lo, hi = max(0, top - half), min(len(c), top + half + 1)
    around = np.clip(c[lo:hi], 0, None)
    if around.sum() <= 0:
        return top
    return int(round(float((np.arange(lo, hi) * around).sum() / around.sum())))


def _xcorr(ta: np.ndarray, da: np.ndarray, tb: np.ndarray, db: np.ndarray, max_lag: int
           ) -> np.ndarray:
    """C(θ) for θ in [-max_lag, max_lag] ms (index θ + max_lag), B's change at tA + θ."""
    lo = np.searchsorted(tb, ta - max_lag - 0.5, side="left")
    hi = np.searchsorted(tb, ta + max_lag + 0.5, side="right")
    counts = hi - lo
    total = int(counts.sum())
    out = np.zeros(2 * max_lag + 1)
    if total == 0:
        return out
    ia = np.repeat(np.arange(len(ta)), counts)
    starts = np.cumsum(counts) - counts
    ib = np.arange(total) - np.repeat(starts - lo, counts)
    lag = np.rint(tb[ib] - ta[ia]).astype(np.int64) + max_lag
    keep = (lag >= 0) & (lag <= 2 * max_lag)
    out += np.bincount(lag[keep], weights=(da[ia] * db[ib])[keep], minlength=2 * max_lag + 1)
    return out


@dataclass
class LeadLag:
    """The lead of ``b`` over ``a`` built up window by window (``add``), then ``result``."""

    a: str
    b: str
    max_lag_ms: int = MAX_LAG_MS
    smooth_ms: int = SMOOTH_MS
    agree_ms: int = AGREE_MS
    total: np.ndarray = field(init=False)
    peaks: list[int] = field(default_factory=list)  # each window's own peak (θ, ms)
    energy_a: float = 0.0
    energy_b: float = 0.0

    def __post_init__(self) -> None:
        self.total = np.zeros(2 * self.max_lag_ms + 1)

    def add(self, ta: ArrayLike, da: ArrayLike, tb: ArrayLike, db: ArrayLike) -> None:
        """One window's mid changes of each venue: receive times (ms, ascending) and sizes."""
        a_t, a_d = np.asarray(ta, float), np.asarray(da, float)
        b_t, b_d = np.asarray(tb, float), np.asarray(db, float)
        if len(a_t) < MIN_CHANGES or len(b_t) < MIN_CHANGES:
            return
        c = _xcorr(a_t, a_d, b_t, b_d, self.max_lag_ms)
        self.total += c
        self.energy_a += float(a_d @ a_d)
        self.energy_b += float(b_d @ b_d)
        if _smooth(c, self.smooth_ms).max() > 0:
            self.peaks.append(_peak(c, self.smooth_ms) - self.max_lag_ms)

    def result(self) -> Lead | None:
        """The estimate; None when no window held enough changes of both venues."""
        if not self.peaks or self.energy_a <= 0 or self.energy_b <= 0:
            return None
        smoothed = _smooth(self.total, self.smooth_ms)
        theta = _peak(self.total, self.smooth_ms) - self.max_lag_ms
        norm = float(np.sqrt(self.energy_a * self.energy_b))
        correlation = float(smoothed[theta + self.max_lag_ms]) / norm if norm else 0.0
        agree = sum(1 for p in self.peaks if abs(p - theta) <= self.agree_ms)
        confidence = round(agree / len(self.peaks), 3)
        if theta >= 0:  # b's changes come theta ms after a's: a leads
            return Lead(self.a, self.b, float(theta), confidence, round(correlation, 4),
                        len(self.peaks))
        return Lead(self.b, self.a, float(-theta), confidence, round(correlation, 4),
                    len(self.peaks))


def lead_lag(a: str, times_a: ArrayLike, mids_a: ArrayLike, b: str,
             times_b: ArrayLike, mids_b: ArrayLike, *,
             window_ms: int = 60_000, max_lag_ms: int = MAX_LAG_MS) -> Lead | None:
    """The lead between two venues from their mid prices (receive times in ms, ascending):
    who leads, by how many ms, how sure. None when there are too few changes."""
    est = LeadLag(a, b, max_lag_ms=max_lag_ms)
    ta, da = _changes(times_a, mids_a)
    tb, db = _changes(times_b, mids_b)
    if len(ta) == 0 or len(tb) == 0:
        return None
    start = min(ta[0], tb[0])
    wa = ((ta - start) // window_ms).astype(np.int64)
    wb = ((tb - start) // window_ms).astype(np.int64)
    for w in np.union1d(wa, wb):
        ia, ib = wa == w, wb == w
        est.add(ta[ia], da[ia], tb[ib], db[ib])
    return est.result()


def _changes(times: ArrayLike, mids: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(times, float)
    m = np.asarray(mids, float)
    if len(m) < 2:
        return np.empty(0), np.empty(0)
    d = np.diff(m)
    moved = d != 0
    return t[1:][moved], d[moved]
