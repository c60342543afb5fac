"""Episode notifications through Apprise (Telegram, Slack, Discord, e-mail, ntfy, a JSON
webhook, ...), off the engine's path: episodes wait in a bounded queue (when it is full the
oldest waiting is dropped for the newest, counted and logged), one thread sends them, and a
service that fails is retried a bounded number of times with capped backoff before the
message counts as failed.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Sequence
from typing import Any

from arbitrex.errors import ConfigError, MissingPackage
from arbitrex.formats.csvfile import plain
from arbitrex.model.episode import Episode
from arbitrex.runtime.backoff import Backoff

__all__ = ["NOTIFY_ON", "Notifier", "message"]

log = logging.getLogger(__name__)

#: What --notify-on takes, and the episode states each sends.
NOTIFY_ON = {"open": ("open",), "closed": ("closed",), "both": ("open", "closed")}


def _signed(value: float) -> str:
    return ("+" if value > 0 else "") + plain(round(value, 10))


def message(episode: Episode) -> tuple[str, str]:
    """(title, body) of an episode's notification."""
    net = _signed(episode.open_net)
    if episode.state == "open":
        title = f"{episode.symbol}: sell {episode.sell} / buy {episode.buy}, net {net}"
        body = (f"An edge opened on {episode.symbol}: selling at {episode.sell} and buying at "
                f"{episode.buy} pays {net} after costs (price units).")
    else:
        title = (f"{episode.symbol}: sell {episode.sell} / buy {episode.buy} closed after "
                 f"{episode.duration_ms:,.0f} ms")
        body = (f"The edge on {episode.symbol} (sell {episode.sell}, buy {episode.buy}) "
                f"closed after {episode.duration_ms:,.0f} ms: peak {_signed(episode.peak_net)}, "
                f"{episode.reason}, closed by {episode.closed_by}.")
    return title, body


class Notifier:
    """Sends a message for each episode whose state is in ``on`` to every URL."""

    def __init__(
        self,
        urls: Sequence[str],
        *,
        on: Sequence[str] = ("open",),
        # Limits
        max_queue: int = 100,
        retries: int = 3,
        # Retries
        retry_initial: float = 0.5,
        retry_max: float = 5.0,
    ) -> None:
        try:
            import apprise
        except ImportError as exc:
            raise MissingPackage("apprise", "--notify", "notify") from exc
        logging.getLogger("apprise").setLevel(logging.WARNING)  # not a line per message
        self.client: Any = apprise.Apprise()
        for url in urls:
            if not self.client.add(url):
                raise ConfigError("notify", f"{url!r} is not a URL Apprise knows",
                                  "e.g. tgram://BOT/CHAT, ntfy://topic, json://host/path")
        self.on = tuple(on)
        self.retries = retries
        self.retry_initial, self.retry_max = retry_initial, retry_max
        self.sent = self.failed = self.dropped = 0
        self._queue: queue.Queue[Episode | None] = queue.Queue(maxsize=max_queue)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="notify", daemon=True)
        self._thread.start()

    def __call__(self, episode: Episode) -> None:
        """Queue the episode's message, never waiting: a full queue drops its oldest."""
        if episode.state not in self.on:
            return
        while True:
            try:
                self._queue.put_nowait(episode)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()  # the oldest waiting gives way
                except queue.Empty:
                    continue
                self.dropped += 1
                if self.dropped == 1 or self.dropped % 100 == 0:
                    log.warning("notifications behind: %d dropped so far (the oldest "
                                "waiting)", self.dropped)

    def close(self, timeout: float = 10.0) -> None:
        """Send what is queued (for up to ``timeout`` seconds), then stop."""
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            pass
        self._thread.join(timeout)
        self._stopping.set()
        self._thread.join(1.0)
        log.info("notifications: %d sent, %d failed, %d dropped", self.sent, self.failed,
                 self.dropped)

    def _run(self) -> None:
        while not self._stopping.is_set():
            episode = self._queue.get()
            if episode is None:
                return
            self._send(episode)

    def _send(self, episode: Episode) -> None:
        title, body = message(episode)
        backoff = Backoff(initial=self.retry_initial, cap=self.retry_max)
        for attempt in range(self.retries + 1):
            if self.client.notify(title=title, body=body):
                self.sent += 1
                return
            if attempt < self.retries and self._stopping.wait(backoff.next()):
                break
        self.failed += 1
        log.error("a notification failed %d times: %s", self.retries + 1, title)
