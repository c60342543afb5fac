"""Who collects each venue into the store: its lease (``collect.lease``), read through the
store's own API."""

from __future__ import annotations

from collections.abc import Iterator

from arbitrex.collect.lease import describe, gone, now_ms
from arbitrex.doctor.report import Check
from arbitrex.stores.base import Leases

__all__ = ["lease_checks"]


def lease_checks(store: object) -> Iterator[Check]:
    if not isinstance(store, Leases):
        return
    held = store.leases()
    if not held:
        yield Check("collectors", "pass", "no collector holds a venue now")
        return
    at = now_ms()
    for holder in held:
        name = f"collector of {holder.venue}"
        if gone(holder, at_ms=at):
            yield Check(name, "warn", f"held by {describe(holder, at_ms=at)}, which is gone",
                        "nothing to do: the next collector of the venue takes it over")
        else:
            yield Check(name, "pass", describe(holder, at_ms=at))
