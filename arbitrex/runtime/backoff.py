"""The one retry delay: capped exponential growth with jitter.

Attempt n (from 1) waits ``min(cap, initial * 2**(n-1))`` scaled by a random factor in
``[1 - jitter, 1]``, so that processes retrying the same server spread out instead of
arriving together. Pure apart from the random numbers, which a test can inject.
"""

from __future__ import annotations

import random
from collections.abc import Callable

__all__ = ["Backoff"]


class Backoff:
    __slots__ = ("initial", "cap", "jitter", "attempt", "_random")

    def __init__(
        self,
        *,
        initial: float,
        cap: float,
        jitter: float = 0.5,
        random_unit: Callable[[], float] = random.random,
    ) -> None:
        if not 0 < initial <= cap:
            raise ValueError("need 0 < initial <= cap")
        if not 0 <= jitter <= 1:
            raise ValueError("jitter is a fraction from 0 to 1")
        self.initial = initial
        self.cap = cap
        self.jitter = jitter
        self.attempt = 0  # failed attempts since the last reset
        self._random = random_unit

    def next(self) -> float:
        """Count one more failed attempt; the seconds to wait before the next one."""
        self.attempt += 1
        delay = min(self.cap, self.initial * 2.0 ** min(self.attempt - 1, 32))
        return delay * (1 - self.jitter * self._random())

    def reset(self) -> None:
        """A success: the next failure starts again from ``initial``."""
        self.attempt = 0
