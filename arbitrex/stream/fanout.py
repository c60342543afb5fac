"""The fan-out of one dispatch: freshly stored ticks to every client subscribed to them.

Each client's share of a dispatch is decided at once by its session (stream by stream,
``runs_of``; a session in step with every stream takes it whole) and written in one socket
write. A tick is encoded once, and what a share puts on the wire is built once for every
client that gets the same ticks. A client holding the ticks view alone is written as soon
as its share is decided, so the first clients' writes do not wait for the last ones'
plans; the others' shares are queued: the hub adds the dispatch's ``best`` and episode
frames and then writes each such client's whole dispatch in one call
(``Connection.flush``). What fan-out cannot do itself (catch a stream up from the store,
watch a held-back client, close a slow one) it returns to the hub in a ``Fanned``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from arbitrex.model.tick import Tick, encode
from arbitrex.stream import protocol as proto
from arbitrex.stream.index import Connection
from arbitrex.stream.metrics import ServerMetrics
from arbitrex.stream.session import Key, Run, runs_of, whole_of
from arbitrex.stream.wire import text_frame

__all__ = ["Fanned", "Share", "fan_out"]


class Share:
    """What one dispatch sends to every client that gets the same ticks: the messages
    (one ``ticks`` frame for a batching client, else one per tick) and their wire bytes."""

    __slots__ = ("messages", "wire", "clients")

    def __init__(self, records: list[bytes], batch: bool) -> None:
        self.messages = [proto.ticks_frame(records)] if batch else records
        self.wire = b"".join(map(text_frame, self.messages))
        self.clients = 0  # how many it was queued for


class Fanned(NamedTuple):
    """What a dispatch leaves to the hub."""

    behind: list[tuple[Connection, Key]]  # streams to catch up from the store
    held: bool  # some client has ticks held back (it was over its bound)
    slow: list[Connection]  # clients over their bound in this dispatch
    queued: list[Connection]  # clients with a share queued, to be flushed
    written: list[int]  # when each client written already was handed to the kernel (ns)


def fan_out(ticks: Sequence[Tick], clients: Iterable[Connection], *, extra: Mapping[str, Any],
            max_buffer: int, max_frames: int, metrics: ServerMetrics, last: bool = True
            ) -> Fanned:
    """Deliver ``ticks`` (store order) to ``clients`` and count what went out. When these
    are the ``last`` ticks of the dispatch, a client holding the ticks view alone is
    written at once, as its share is queued (nothing else of this dispatch is for it); the
    others' shares wait in ``queued`` for the frames of their other views."""
    runs = runs_of(ticks)
    whole = whole_of(runs, ticks)
    frames: dict[int, bytes] = {}  # tick index -> its record, encoded once
    shares: dict[tuple[tuple[int, ...], bool], Share] = {}  # (indices, batch) -> wire
    fanned = Fanned([], False, [], [], [])
    clock = time.time_ns
    for client in clients:
        if client.closing:
            continue
        if whole is not None and not client.wire.over(max_buffer, max_frames) \
                and client.session.take_whole(whole):
            send = whole.indices  # in step: all of it, decided at once
        else:
            send, held = _plan(client, ticks, runs, fanned, max_buffer, max_frames)
            if held:
                fanned = fanned._replace(held=True)
        if send and _queue(client, send, ticks, frames, shares, extra):
            session = client.session
            if last and not session.best and not session.episodes:
                client.flush()
                fanned.written.append(clock())
            else:
                fanned.queued.append(client)
    for (indices, _), share in shares.items():
        for i in indices or range(len(ticks)):
            metrics.ticks_out[ticks[i].symbol] += share.clients
    return fanned


def _plan(client: Connection, ticks: Sequence[Tick], runs: list[Run], fanned: Fanned,
          max_buffer: int, max_frames: int) -> tuple[list[int], bool]:
    """The client's share (indices into ``ticks``) and whether it held some back."""
    over = client.wire.over(max_buffer, max_frames)
    send, behind, held = client.session.plan(ticks, runs=runs, hold=over)
    if behind:
        fanned.behind.extend((client, key) for key in behind)
    if held and over:
        fanned.slow.append(client)
    return send, bool(held)


def _queue(client: Connection, send: list[int], ticks: Sequence[Tick], frames: dict[int, bytes],
           shares: dict[tuple[tuple[int, ...], bool], Share], extra: Mapping[str, Any]
           ) -> bool:
    """Queue the client's share, built once for every client that gets the same; whether
    it was queued."""
    batch = client.session.batch
    which = (() if len(send) == len(ticks) else tuple(send), batch)  # () is all of them
    share = shares.get(which)
    if share is None:
        for i in send:
            if i not in frames:
                frames[i] = encode(ticks[i], **extra)
        share = shares[which] = Share([frames[i] for i in send], batch)
    if not client.wire.queue(share.messages, share.wire):
        return False
    share.clients += 1
    return True
