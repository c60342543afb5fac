"""A session in step with the server's state of the cross-venue view (``Session.in_step``:
the server's book stands for its own) gets the server's ``best`` frames without its book
being compared or kept:
held, by hypothesis, to what it stands for. Through the hub itself, in process, over stub
transports: dispatches of several venues and symbols (with seq gaps; some stored before
they are dispatched), clients over their bound and drained, views taken and dropped, the
server's state seeded from the store by a new client or a /metrics scrape. After every
step, the server's state of every symbol a session in step holds in both views is what
the client got, and every ``best`` frame a client holding both views got was cut from exactly the
ticks it was sent before it."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.protocol import State

from arbitrex.model.tick import Tick, from_record
from arbitrex.stores.memory import MemoryStore
from arbitrex.stream import protocol as proto
from arbitrex.stream.best import view_record
from arbitrex.stream.hub import Hub
from arbitrex.stream.index import Connection
from arbitrex.stream.session import Session
from arbitrex.stream.wire import Wire, text_frame

VENUES = ("icm", "oanda", "pepper")
SYMBOLS = ("EURUSD", "GBPUSD")
T0 = 1_800_000_000_000
MAX_BUFFER = 1000


class Transport:
    def __init__(self) -> None:
        self.size = 0  # what the kernel has not taken: over MAX_BUFFER is a slow client
        self.data = bytearray()

    def get_write_buffer_size(self) -> int:
        return self.size

    def write(self, data: bytes) -> None:
        self.data += data

    def can_write_eof(self) -> bool:
        return True


class Protocol:
    """What ``Wire`` uses of websockets' sans-I/O protocol, for frames it does not frame."""

    state = State.OPEN
    extensions: list[Any] = []

    def __init__(self) -> None:
        self.out: list[bytes] = []

    def send_text(self, data: bytes) -> None:
        self.out.append(text_frame(data))

    def data_to_send(self) -> list[bytes]:
        out, self.out = self.out, []
        return out


class Conn:
    def __init__(self) -> None:
        self.protocol = Protocol()
        self.transport = Transport()


def messages(data: bytearray) -> list[dict[str, Any]]:
    """The text frames written (unmasked, short or 16-bit lengths), parsed."""
    out, i = [], 0
    while i < len(data):
        n, i = data[i + 1], i + 2
        if n == 126:
            n, i = int.from_bytes(data[i:i + 2], "big"), i + 2
        out.append(orjson.loads(bytes(data[i:i + n])))
        i += n
    return out


class Client:
    """A connection over a stub transport, and what it knows from the frames it got."""

    def __init__(self, hub: Hub) -> None:
        self.conn = Connection(Wire(Conn()), Session())  # type: ignore[arg-type]
        self.transport: Transport = self.conn.wire.conn.transport  # type: ignore[assignment]
        self.read = 0
        self.seen: dict[str, dict[str, Tick]] = {}  # symbol -> venue -> latest tick got
        hub.add(self.conn)

    def check(self) -> None:
        """Every best frame of a symbol it holds in both views is the view of the ticks
        it got before that frame."""
        session = self.conn.session
        got = messages(self.transport.data)
        for frame in got[self.read:]:
            if frame["type"] == "tick" or frame["type"] == "ticks":
                for record in frame["data"] if frame["type"] == "ticks" else [frame]:
                    tick = from_record(record)
                    held = self.seen.setdefault(tick.symbol, {}).get(tick.venue)
                    if held is None or tick.seq > held.seq:
                        self.seen[tick.symbol][tick.venue] = tick
            elif frame["type"] == "best" and session.both(frame["symbol"]):
                want = view_record(frame["symbol"], self.seen.get(frame["symbol"], {}))
                if frame.get("snapshot"):
                    want["snapshot"] = True
                assert frame == want
        self.read = len(got)


class Feed:
    def __init__(self) -> None:
        self.seq: dict[tuple[str, str], int] = {}
        self.ms = T0

    def tick(self, venue: str, symbol: str, skip: int, price: int) -> Tick:
        key = (venue, symbol)
        self.seq[key] = self.seq.get(key, 0) + 1 + skip
        self.ms += 7
        bid = 1.085 + price * 1e-5
        return Tick(venue, symbol, self.seq[key], self.ms, bid, bid + 2e-5, 0.0, 0, 0.0, 6,
                    self.ms * 1_000_000 + 500_000, self.ms)


STREAMS = st.tuples(st.sampled_from(VENUES), st.sampled_from(SYMBOLS),
                    st.sampled_from([0, 0, 0, 0, 1]), st.integers(-20, 20))
STEP = st.one_of(
    st.tuples(st.just("dispatch"), st.lists(STREAMS, min_size=1, max_size=6)),
    st.tuples(st.just("store"), st.lists(STREAMS, min_size=1, max_size=3)),
    st.tuples(st.just("slow"), st.integers(0, 3), st.booleans()),
    st.tuples(st.just("both"), st.integers(0, 3), st.sampled_from(SYMBOLS)),
    st.tuples(st.just("drop"), st.integers(0, 3), st.sampled_from(("ticks", "best"))),
    st.tuples(st.just("watch"), st.sampled_from(SYMBOLS)),
    st.tuples(st.just("scrape")),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(STEP, min_size=1, max_size=25))
def test_a_session_in_step_holds_the_servers_state(steps: list[tuple[Any, ...]]) -> None:
    asyncio.run(_run(steps))


async def _run(steps: list[tuple[Any, ...]]) -> None:
    store = MemoryStore()
    hub = Hub(store, store, max_buffer=MAX_BUFFER)
    feed = Feed()
    clients = [Client(hub) for _ in range(4)]
    for i, client in enumerate(clients):  # both views of both symbols; one of one symbol
        symbols = SYMBOLS if i < 3 else SYMBOLS[:1]
        hub.subscribe(client.conn, proto.Subscribe(symbols, batch=i % 2 == 1))
        hub.subscribe(client.conn, proto.Subscribe(symbols, view="best"))
    stored: list[Tick] = []  # stored, not dispatched yet (serve's read comes after)
    for step in steps:
        kind = step[0]
        if kind in ("dispatch", "store"):
            ticks = [feed.tick(venue, symbol, skip, price)
                     for venue, symbol, skip, price in step[1]]
            store.add(ticks)
            stored += ticks
            if kind == "dispatch":
                hub.dispatch(stored)
                stored = []
        else:
            _act(hub, clients, step)
        for _ in range(3):  # catch-ups from the store run
            await asyncio.sleep(0)
        server = hub.views.book.latest
        for client in clients:
            client.check()
            session = client.conn.session
            if session.in_step:  # the server's state is what the client got
                for symbol in session.symbols & session.best:
                    got = {venue: t.seq for venue, t in client.seen.get(symbol, {}).items()}
                    assert got == {venue: t.seq for venue, t in server.get(symbol, {}).items()}
                    assert session.state.latest.get(symbol) == server.get(symbol), symbol


def _act(hub: Hub, clients: list[Client], step: tuple[Any, ...]) -> None:
    kind = step[0]
    if kind == "slow":
        clients[step[1]].transport.size = MAX_BUFFER + 1 if step[2] else 0
        hub.flush_pending()
    elif kind == "both":
        conn = clients[step[1]].conn
        hub.subscribe(conn, proto.Subscribe((step[2],)))
        hub.subscribe(conn, proto.Subscribe((step[2],), view="best"))
    elif kind == "drop":
        hub.unsubscribe(clients[step[1]].conn, proto.Unsubscribe(SYMBOLS[1:], step[2]))
    elif kind == "watch":  # a new client of the view alone: the server's state is seeded
        hub.subscribe(Client(hub).conn, proto.Subscribe((step[1],), view="best"))
    else:
        hub.top_edges()  # a /metrics scrape seeds every stored symbol
