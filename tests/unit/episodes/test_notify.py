"""Notifications: the message, and a queue that never blocks the engine (a full one drops
its oldest and counts it)."""

from __future__ import annotations

import threading

import pytest

from arbitrex.episodes.notify import Notifier, message
from arbitrex.model import Episode

apprise = pytest.importorskip("apprise")


def episode(n: int, state: str = "open") -> Episode:
    closed = state == "closed"
    return Episode("EURUSD", "icm", "pep", state, n, n + 1 if closed else None,
                   184.6 if closed else None, n, n if closed else None, 0.00002, 0.00004,
                   0.00003, 3, "pep" if closed else None, "converged" if closed else None)


def test_the_message_names_the_pair_and_the_net_edge():
    title, body = message(episode(1))
    assert title == "EURUSD: sell icm / buy pep, net +0.00002"
    assert "selling at icm and buying at pep pays +0.00002 after costs" in body
    title, body = message(episode(1, "closed"))
    assert "closed after 185 ms" in title and "peak +0.00004, converged, closed by pep" in body


def test_a_full_queue_drops_its_oldest_never_the_engine(monkeypatch):
    release, entered = threading.Event(), threading.Event()
    sent: list[str] = []

    def slow(self, *, title: str, body: str) -> bool:
        entered.set()
        release.wait(10)
        sent.append(title)
        return True

    monkeypatch.setattr(apprise.Apprise, "notify", slow)
    notifier = Notifier(["json://127.0.0.1:1/x"], on=("open",), max_queue=2)
    notifier(episode(0))
    assert entered.wait(10)  # the first is being sent
    for n in range(1, 6):  # the queue holds 2: the oldest give way
        notifier(episode(n))
    notifier(episode(9, "closed"))  # not asked for: ignored
    assert notifier.dropped == 3
    release.set()
    notifier.close()
    assert notifier.sent == 3 and notifier.failed == 0
    assert sent == [message(episode(n))[0] for n in (0, 4, 5)]
