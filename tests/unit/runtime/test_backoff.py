"""The one retry delay: grows by doubling, stops at its cap, spreads by jitter, resets."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arbitrex.runtime.backoff import Backoff


def test_doubles_up_to_the_cap_and_starts_over_after_a_reset() -> None:
    backoff = Backoff(initial=0.5, cap=4.0, jitter=0.0)
    assert [backoff.next() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert backoff.attempt == 6
    backoff.reset()
    assert backoff.attempt == 0 and backoff.next() == 0.5


def test_jitter_scales_each_delay_down_by_at_most_its_fraction() -> None:
    assert Backoff(initial=1.0, cap=8.0, jitter=0.5, random_unit=lambda: 0.0).next() == 1.0
    assert Backoff(initial=1.0, cap=8.0, jitter=0.5, random_unit=lambda: 0.999).next() \
        == pytest.approx(0.5005)


@given(attempts=st.integers(1, 200), unit=st.floats(0, 1, exclude_max=True),
       jitter=st.floats(0, 1))
def test_every_delay_is_within_its_bounds(attempts: int, unit: float, jitter: float) -> None:
    backoff = Backoff(initial=0.25, cap=30.0, jitter=jitter, random_unit=lambda: unit)
    for _ in range(attempts):
        delay = backoff.next()
    assert 0 < delay <= 30.0
    assert delay >= min(30.0, 0.25 * 2 ** (attempts - 1)) * (1 - jitter) - 1e-9


@pytest.mark.parametrize("kwargs", [{"initial": 0, "cap": 1}, {"initial": 2, "cap": 1},
                                    {"initial": 1, "cap": 2, "jitter": 1.5}])
def test_nonsense_is_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Backoff(**kwargs)
