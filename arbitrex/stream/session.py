"""One client's subscription state and the delivery decisions, without I/O.

For each (venue, symbol) stream the session remembers the last seq it delivered (or
declared lost in a ``gap``). A tick is then either sent (the next seq), skipped (already
delivered, or not subscribed), deferred (the client is slow: keep only the latest), or
the stream is behind and must first be caught up from the store. One dispatch is decided
run by run (``runs_of``): a stream's ticks with consecutive seqs go together when the
first of them is the next seq, so the work per client grows with the streams in a
dispatch rather than with its ticks.

A subscription is decided here too (``plan_subscribe``): per stream, the stored last tick
(a snapshot), or a resume from the store after the client's ``since``, with a
``history_trimmed`` gap where the store no longer reaches back that far.

A session may hold the cross-venue view of a symbol (``best``) as well as, or instead of,
its ticks. For a symbol held in both views, ``book`` keeps the latest tick sent of each
venue, so that every ``best`` frame is cut from exactly the ticks sent before it. It may
hold a symbol's episodes too (``episodes``): the frames the server's engine makes, which a
client over its bound is owed (at most ``MAX_OWED_EPISODES``; beyond that the oldest are
dropped, and once it drains it gets the open episodes again as a snapshot).
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from arbitrex.errors import ProtocolError
from arbitrex.model.gap import Gap
from arbitrex.model.tick import Tick
from arbitrex.stream.best import Book

__all__ = [
    "Bounds", "Decision", "Key", "Run", "Session", "SubscribePlan", "Whole", "resume_point",
    "runs_of", "since_of", "whole_of",
]

Key = tuple[str, str]  # (venue, symbol)

# Limits
MAX_OWED_EPISODES = 1024  # episode frames kept for a client over its bound


class Run(NamedTuple):
    """Ticks of one stream with consecutive seqs, by their index in a dispatch."""

    key: Key
    first: int  # the seq of its first tick
    indices: list[int]


def runs_of(ticks: Sequence[Tick]) -> list[Run]:
    """Group a dispatch (store order) into runs: a tick joins its stream's open run when
    its seq is the next one, else it opens a new run."""
    runs: list[Run] = []
    open_runs: dict[Key, tuple[Run, int]] = {}  # key -> (its open run, the run's last seq)
    for i, tick in enumerate(ticks):
        key = tick[:2]
        seq = tick[2]
        current = open_runs.get(key)
        if current is not None and seq == current[1] + 1:
            current[0].indices.append(i)
            open_runs[key] = (current[0], seq)
        else:
            run = Run(key, seq, [i])
            runs.append(run)
            open_runs[key] = (run, seq)
    return runs


class Whole(NamedTuple):
    """A dispatch in which each stream has one run: what a session in step with all of
    them takes at once (``Session.take_whole``)."""

    symbols: frozenset[str]
    # (stream, its run's first seq, its last seq, its last tick)
    steps: tuple[tuple[Key, int, int, Tick], ...]
    indices: list[int]  # every tick of the dispatch


def whole_of(runs: Sequence[Run], ticks: Sequence[Tick]) -> Whole | None:
    """The ``Whole`` of a dispatch, or None when a stream has several runs in it (a seq
    missing in the middle: each session plans it run by run)."""
    keys = {run.key for run in runs}
    if len(keys) != len(runs):
        return None
    return Whole(frozenset(key[1] for key in keys),
                 tuple((r.key, r.first, r.first + len(r.indices) - 1, ticks[r.indices[-1]])
                       for r in runs),
                 list(range(len(ticks))))


class Bounds(NamedTuple):
    """What a store holds of one stream: its oldest and newest seq (None when empty)."""

    first: int | None
    last: int | None


class SubscribePlan(NamedTuple):
    """What to send a client that subscribes, in this order: ``subscribed`` (with
    ``recovered`` when it gave ``since``), the gaps, the stored last tick of each stream
    in ``snapshots``, then each stream of ``resumes`` from the store after its seq."""

    recovered: dict[str, bool] | None
    gaps: list[Gap]
    snapshots: list[Key]
    resumes: list[tuple[Key, int]]


def since_of(since: Mapping[str, int] | None, key: Key) -> int | None:
    """The client's last seq of a stream: keyed ``VENUE:SYMBOL``, or ``SYMBOL`` for all of
    its venues; None when it gave none."""
    if since is None:
        return None
    venue, symbol = key
    return since.get(f"{venue}:{symbol}", since.get(symbol))


def resume_point(since: int, bounds: Bounds) -> tuple[bool, int | None, Gap | None]:
    """(recovered, the seq to resume after or None for a snapshot instead, the gap) for a
    stream whose store holds ``bounds``; the gap's key is left empty for the caller."""
    first, last = bounds
    if first is None or last is None:
        return since == 0, None, None
    if since > last:
        return False, None, None  # the client is ahead of this store (a different store?)
    if since + 1 < first:
        return False, first - 1, Gap("", "", since + 1, first - 1, "history_trimmed")
    return True, since, None


class Decision(enum.Enum):
    SKIP = "skip"
    SEND = "send"
    DEFER = "defer"
    CATCH_UP = "catch_up"


class Session:
    def __init__(
        self,
        *,
        # Limits
        max_symbols: int = 256,
    ) -> None:
        self.max_symbols = max_symbols
        self.symbols: set[str] = set()  # held in the ticks view
        self.best: set[str] = set()  # held in the cross-venue view
        self.book = Book()  # the latest tick sent per venue, of symbols held in both views
        # In step: the server's book (``shared``) stands for this one for every symbol held
        # in both views, which is then left as it was. The hub shares it once it found the
        # two equal; a whole dispatch keeps it (both take the same ticks: the server's
        # after the clients', see ``Hub.dispatch``); anything else that changes what is
        # held or sent first takes a copy of the server's (``unshare``).
        self.shared: Book | None = None
        self.best_owed: set[str] = set()  # best frames held back while the client was slow
        self.episodes: set[str] = set()  # held in the episodes view
        # episode frames held back while the client was slow, and how many did not fit
        self.episodes_owed: deque[bytes] = deque(maxlen=MAX_OWED_EPISODES)
        self.episodes_dropped = 0
        self.batch = False
        self.sent: dict[Key, int] = {}
        self.catching_up: set[Key] = set()
        # Slow consumer: stream -> (first seq not delivered, latest tick held back)
        self.pending: dict[Key, tuple[int, Tick]] = {}

    def subscribe(self, symbols: tuple[str, ...], view: str = "ticks") -> list[str]:
        """Add symbols to a view; return the ones that are new to it. Refuses to hold more
        than ``max_symbols`` symbols, both views together."""
        held = self.held(view)
        new = [s for s in symbols if s not in held]
        if len(self.symbols | self.best | self.episodes | set(new)) > self.max_symbols:
            raise ProtocolError("too_many_symbols",
                                f"at most {self.max_symbols} symbols per connection")
        self.unshare()
        held.update(new)
        return new

    @property
    def in_step(self) -> bool:
        """Whether the server's book stands for this session's (``share``)."""
        return self.shared is not None

    @property
    def state(self) -> Book:
        """The latest tick sent per venue, of the symbols held in both views: the server's
        book while in step."""
        return self.book if self.shared is None else self.shared

    def share(self, server: Book) -> None:
        """The server's book ``server`` now holds exactly what this session was sent, for
        every symbol it holds in both views: stand for its book until ``unshare``."""
        self.shared = server
        self.book.latest.clear()

    def unshare(self) -> None:
        """Take back a book of its own: a copy of the server's as it stands (the caller
        calls this before the server's book moves past what was sent, and before what
        is held or sent changes)."""
        server = self.shared
        if server is None:
            return
        self.shared = None
        both = self.symbols & self.best
        self.book.latest = {s: dict(venues) for s, venues in server.latest.items()
                            if s in both}

    def held(self, view: str) -> set[str]:
        """The symbols held in ``view``."""
        return self.best if view == "best" else self.episodes if view == "episodes" \
            else self.symbols

    def both(self, symbol: str) -> bool:
        """Whether the session holds both views of ``symbol``."""
        return symbol in self.best and symbol in self.symbols

    def plan_subscribe(self, symbols: Sequence[str], streams: Sequence[Key],
                       since: Mapping[str, int] | None, bounds: Mapping[Key, Bounds]
                       ) -> SubscribePlan:
        """Decide what a subscription to ``symbols`` sends: ``streams`` are the stored
        (venue, symbol) streams of those symbols, ``bounds`` what the store holds of each
        stream that ``since`` names. A stream already being delivered gets no snapshot."""
        recovered: dict[str, bool] | None = {} if since is not None else None
        plan = SubscribePlan(recovered, [], [], [])
        for key in streams:
            seq = since_of(since, key)
            if seq is None:
                if key not in self.sent:
                    plan.snapshots.append(key)
                continue
            ok, after, gap = resume_point(seq, bounds[key])
            if recovered is not None:
                recovered[key[1]] = recovered.get(key[1], True) and ok
            if gap is not None:
                plan.gaps.append(gap._replace(venue=key[0], symbol=key[1]))
            if after is None:
                plan.snapshots.append(key)
            else:
                plan.resumes.append((key, after))
        if recovered is not None and since is not None:
            for symbol in symbols:  # no stream stored yet: recovered only if nothing was held
                recovered.setdefault(symbol, since.get(symbol, 0) == 0)
        return plan

    def unsubscribe(self, symbols: tuple[str, ...], view: str = "ticks") -> None:
        """Drop symbols from a view (those not held are ignored)."""
        self.unshare()
        for symbol in symbols:
            self.book.latest.pop(symbol, None)  # whichever view goes, "both" ends
        if view == "best":
            self.best.difference_update(symbols)
            self.best_owed.difference_update(symbols)
            return
        if view == "episodes":
            self.episodes.difference_update(symbols)
            return
        gone = self.symbols.intersection(symbols)
        self.symbols.difference_update(gone)
        for table in (self.sent, self.pending):
            for key in [k for k in table if k[1] in gone]:
                del table[key]
        self.catching_up = {k for k in self.catching_up if k[1] not in gone}

    def decide(self, tick: Tick) -> Decision:
        if tick.symbol not in self.symbols:
            return Decision.SKIP
        key = (tick.venue, tick.symbol)
        if key in self.catching_up:
            return Decision.SKIP  # the catch-up reads it from the store
        if key in self.pending:
            return Decision.DEFER
        last = self.sent.get(key)
        if last is None or tick.seq == last + 1:
            return Decision.SEND
        if tick.seq <= last:
            return Decision.SKIP
        return Decision.CATCH_UP

    def plan(self, ticks: Sequence[Tick], *, runs: Sequence[Run] | None = None,
             hold: bool = False) -> tuple[list[int], list[Key], int]:
        """Decide one dispatch at once: (indices of ``ticks`` to send now, in store order,
        marked sent; streams to catch up from the store; how many were held back). With
        ``hold`` (the client is over its bound) what would be sent is deferred instead.
        ``runs`` is ``runs_of(ticks)``, passed when the caller plans for many clients."""
        send: list[int] = []
        behind: list[Key] = []
        held = 0
        self.unshare()  # the server takes every tick (after this); this session maybe not all
        symbols, sent, catching_up, pending = self.symbols, self.sent, self.catching_up, \
            self.pending  # this runs once per client per dispatch
        for run in runs_of(ticks) if runs is None else runs:
            key, first, indices = run
            if key[1] not in symbols or key in catching_up:
                continue  # not subscribed, or the catch-up reads it from the store
            if not hold and key not in pending:
                last = sent.get(key)
                if last is None or first == last + 1:  # the whole run is next: send it
                    sent[key] = first + len(indices) - 1
                    send += indices
                    if key[1] in self.best:  # seqs sent only grow: the run's last is newest
                        self.book.put(ticks[indices[-1]])
                    continue
            for i in indices:  # otherwise tick by tick
                tick = ticks[i]
                decision = self.decide(tick)
                if decision is Decision.SKIP:
                    continue
                if decision is Decision.SEND and not hold:
                    self.mark_sent(tick)
                    send.append(i)
                elif decision is Decision.CATCH_UP:
                    behind.append(key)
                    self.catching_up.add(key)  # later ticks of the stream come from the store
                else:
                    self.defer(tick)
                    held += 1
        send.sort()  # runs of several streams interleave in the store
        return send, behind, held

    def take_whole(self, whole: Whole) -> bool:
        """Mark a whole dispatch sent when the session is in step with every stream of it:
        it holds all its symbols in the ticks view, nothing is held back or being caught
        up, and each stream's next seq is its run's first (the usual case, decided without
        planning run by run; a symbol held in both views gets its run's last tick in its
        book, as ``plan`` does, unless the server's book stands for it). False: nothing
        changed, ``plan`` it."""
        if self.pending or self.catching_up or not whole.symbols <= self.symbols:
            return False
        sent = self.sent
        for key, first, _, _ in whole.steps:
            last = sent.get(key)
            if last is not None and last != first - 1:
                return False
        for key, _, last, _ in whole.steps:
            sent[key] = last
        best = self.best
        if best and self.shared is None:  # in step, the server's book takes them instead
            for key, _, _, tick in whole.steps:
                if key[1] in best:
                    self.book.put(tick)
        return True

    def mark_sent(self, tick: Tick) -> None:
        self.sent[tick.key] = tick.seq
        if tick.symbol in self.best:
            self.unshare()
            self.book.update((tick,))

    def defer(self, tick: Tick) -> None:
        """The client cannot take ``tick`` now: hold only the latest per stream."""
        key = tick.key
        held = self.pending.get(key)
        if held is None:
            last = self.sent.get(key)
            first_missing = tick.seq if last is None else last + 1
            self.pending[key] = (first_missing, tick)
        elif tick.seq > held[1].seq:
            self.pending[key] = (held[0], tick)

    def owes(self) -> bool:
        """Whether something was held back while the client was slow."""
        return bool(self.pending or self.best_owed or self.episodes_owed
                    or self.episodes_dropped)

    def owe_episode(self, frame: bytes) -> None:
        """Hold an episode frame for when the client drains (the oldest goes when full)."""
        if len(self.episodes_owed) == self.episodes_owed.maxlen:
            self.episodes_dropped += 1
        self.episodes_owed.append(frame)

    def take_owed_episodes(self) -> tuple[list[bytes], int]:
        """The episode frames held back, oldest first, and how many were dropped; cleared."""
        owed, dropped = list(self.episodes_owed), self.episodes_dropped
        self.episodes_owed.clear()
        self.episodes_dropped = 0
        return owed, dropped

    def take_owed(self) -> list[str]:
        """The symbols whose best frame was held back, sorted; cleared."""
        owed = sorted(self.best_owed)
        self.best_owed.clear()
        return owed

    def take_pending(self) -> list[tuple[tuple[int, int] | None, Tick]]:
        """What to send once the client drains: per stream the skipped range (or None), then
        the latest tick."""
        out = []
        for first_missing, tick in self.pending.values():
            skipped = (first_missing, tick.seq - 1) if first_missing <= tick.seq - 1 else None
            out.append((skipped, tick))
            self.mark_sent(tick)
        self.pending.clear()
        return out
