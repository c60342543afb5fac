"""A deterministic market simulator: venue ``sim``, realistic prices, spreads and bursts.

``SimModel`` is pure: for a seed and a list of symbols it yields the same sequence of
(symbol, bid, ask, burst position) every run. ``SimSource`` paces it at ``rate`` ticks
per second against a clock, as a feed read every ``poll_interval`` (what arrived since the
last read), and stamps ticks like the MT5 source does: ``time_msc`` is the event time
(when the tick was due), ``recv_ns`` when the collector read it (docs/PROTOCOL.md: when
the collector received it). The wait for the read is in the event-time latency, not in the
receive one. Ticks of one burst share a millisecond.

Several brokers (``collect --source sim --venues icm,pepper,oanda``, one process each) quote
one underlying price path per symbol: the same seed and the same start (the parent's
``CollectPlan.started_ns``) give every broker's process the same path. Each ``Broker`` sees
the path's moves late (its feed latency), quotes its own spread around its own level and
with its own digits, and pauses now and then for longer than a view calls stale; so a bid
at one broker above the ask at another happens every few seconds, as latency makes it
between real brokers. Each broker's feed is read at its own point of the poll interval, as
terminals in processes of their own are: their commits do not all come at once. One broker
named ``sim`` (the default) quotes the path as it is.

A broker's process restarted by its supervisor takes the path up at the current moment, as
a terminal reconnecting would: the model is fast-forwarded to the draw due now without
emitting anything. So that this costs at most a few seconds however long the path has run,
the path is drawn in epochs of ``EPOCH_DRAWS`` draws (about 23 h at the default 50
ticks/s), each from a seed of its own: at an epoch's start every broker's prices jump
together to a fresh level near the typical one, like a market reopening.
"""

from __future__ import annotations

import math
import random
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from statistics import NormalDist

from arbitrex.model.tick import TICK_FLAG_ASK, TICK_FLAG_BID, Tick
from arbitrex.sources.base import Position

__all__ = [
    "Broker", "EPOCH_DRAWS", "INSTRUMENTS", "Instrument", "POLL_INTERVAL", "SimModel",
    "SimSource", "VENUE", "brokers_for", "instrument_for",
]

VENUE = "sim"
# Seconds between reads of the simulated feed, by default. What one read returns is one
# batch: reading more often wakes collect and serve more often (CPU), reading less often
# makes bigger batches, which take longer to fan out to many clients (latency). 10 ms
# balanced the two in scripts/bench.py (docs/BENCHMARKS.md has the sweep); MT5: 50 ms.
POLL_INTERVAL = 0.01


@dataclass(frozen=True)
class Instrument:
    price: float  # a typical mid price
    digits: int  # decimals quoted
    spread_points: tuple[int, int]  # typical spread range, in points (10**-digits)
    vol_points: float  # standard deviation of one tick's move, in points


INSTRUMENTS: dict[str, Instrument] = {
    "EURUSD": Instrument(1.0850, 5, (4, 12), 1.5),
    "GBPUSD": Instrument(1.2700, 5, (6, 16), 2.0),
    "USDJPY": Instrument(150.00, 3, (6, 15), 2.0),
    "USDCHF": Instrument(0.8800, 5, (8, 18), 1.5),
    "AUDUSD": Instrument(0.6600, 5, (5, 14), 1.2),
    "USDCAD": Instrument(1.3600, 5, (8, 18), 1.5),
    "NZDUSD": Instrument(0.6100, 5, (8, 20), 1.2),
    "EURJPY": Instrument(162.00, 3, (10, 25), 2.5),
    "XAUUSD": Instrument(2000.0, 2, (15, 40), 8.0),
    "XAGUSD": Instrument(24.00, 3, (15, 35), 3.0),
    "BTCUSD": Instrument(60000.0, 2, (1000, 3000), 800.0),
    "US500": Instrument(5000.0, 2, (40, 80), 25.0),
}


def instrument_for(symbol: str) -> Instrument:
    """Known symbols have realistic parameters; others get a stable made-up FX-like one."""
    base = symbol.upper().split(".")[0][:6]
    if base in INSTRUMENTS:
        return INSTRUMENTS[base]
    h = zlib.crc32(symbol.encode())
    return Instrument(0.5 + (h % 1500) / 1000, 5, (5, 15), 1.5)


class SimModel:
    """The pure, seeded price process: ``next()`` -> (symbol, bid, ask, flags, burst_index)."""

    # Limits
    BURST_PROBABILITY = 0.08  # chance that a tick opens a burst
    BURST_MAX = 5  # ticks in one burst, at most

    def __init__(self, symbols: tuple[str, ...] | list[str], *, seed: int | str = 0) -> None:
        if not symbols:
            raise ValueError("the simulator needs at least one symbol")
        self.symbols = tuple(symbols)
        self._rng = random.Random(seed)
        self._inst = {s: instrument_for(s) for s in self.symbols}
        self._point = {s: 10.0 ** -inst.digits for s, inst in self._inst.items()}
        self._mid = {s: self._inst[s].price * (1 + self._rng.uniform(-0.002, 0.002))
                     for s in self.symbols}
        self._burst: list[str] = []

    @property
    def in_burst(self) -> bool:
        return bool(self._burst)

    def skip(self, draws: int) -> None:
        """Advance ``draws`` draws without giving them (a fast-forward)."""
        step = self.__next__
        for _ in range(draws):
            step()

    def __iter__(self) -> Iterator[tuple[str, float, float, int, int]]:
        return self

    def __next__(self) -> tuple[str, float, float, int, int]:
        # Uniform draws scaled by hand: random.choice and randint cost several calls each,
        # and the collector runs this for every simulated tick.
        uniform = self._rng.random
        if self._burst:
            symbol = self._burst.pop()
            burst_index = 1
        else:
            symbol = self.symbols[int(uniform() * len(self.symbols))]
            burst_index = 0
            if uniform() < self.BURST_PROBABILITY:
                self._burst = [symbol] * (1 + int(uniform() * (self.BURST_MAX - 1)))
        inst = self._inst[symbol]
        point = self._point[symbol]
        mid = self._mid[symbol] + _NORMAL[int(uniform() * _NORMAL_SIZE)] * inst.vol_points * point
        # Keep the walk near its typical level: a weak pull back over a long run.
        mid += (inst.price - mid) * 1e-4
        self._mid[symbol] = mid
        low, high = inst.spread_points
        spread = (low + int(uniform() * (high - low + 1))) * point
        bid = round(mid - spread / 2, inst.digits)
        ask = round(bid + max(spread, point), inst.digits)
        return symbol, bid, ask, _FLAGS[int(uniform() * 4)], burst_index


# A standard normal draw by table: the quantiles of NORMAL_SIZE equal slices (what
# random.gauss gives, without its cost per tick; tails end near 3.8 sigma).
_NORMAL_SIZE = 8192
_NORMAL = [NormalDist().inv_cdf((i + 0.5) / _NORMAL_SIZE) for i in range(_NORMAL_SIZE)]

_FLAGS = (TICK_FLAG_BID | TICK_FLAG_ASK, TICK_FLAG_BID | TICK_FLAG_ASK, TICK_FLAG_BID,
          TICK_FLAG_ASK)  # what changed in a tick: both sides half the time


@dataclass(frozen=True)
class Broker:
    """How one simulated broker quotes the common underlying price."""

    name: str
    latency_ms: float = 0.0  # it sees every move this late
    spread_factor: float = 1.0  # its spread, against the instrument's typical one
    offset_points: float = 0.0  # where its prices sit against the underlying's
    fewer_digits: int = 0  # it quotes this many decimals fewer
    pause_every_s: float = 0.0  # it stops quoting for pause_s every this many seconds (0: never)
    pause_s: float = 0.0
    pause_phase_s: float = 0.0
    # where in each poll interval its terminal is read, as a fraction of it: terminals in
    # processes of their own are not read in step (their commits would all come at once)
    read_phase: float = 0.0

    @property
    def plain(self) -> bool:
        """Whether it quotes the underlying as it is (the single default broker)."""
        return (self.latency_ms, self.spread_factor, self.offset_points, self.fewer_digits,
                self.pause_every_s) == (0.0, 1.0, 0.0, 0, 0.0)


# Broker profiles, by position in --venues: (latency ms, spread factor, offset points,
# fewer digits, pause every s, pause s, read phase). Pauses of 12 s outlast a view's 10 s
# staleness. The read phases are uneven, as independent terminals' would be.
_PROFILES = ((15, 0.7, 0.0, 0, 0, 0, 0.0), (140, 1.0, 1.5, 0, 47, 12, 0.45),
             (330, 0.8, -1.5, 1, 61, 12, 0.8), (70, 1.2, 0.8, 0, 53, 12, 0.2),
             (220, 0.9, -0.8, 0, 71, 12, 0.6))


def brokers_for(names: tuple[str, ...] | list[str]) -> tuple[Broker, ...]:
    """One broker per name, each with its own profile; a single name quotes the path as is."""
    if len(names) == 1:
        return (Broker(names[0]),)
    out = []
    for i, name in enumerate(names):
        latency, spread, offset, digits, every, pause, phase = _PROFILES[i % len(_PROFILES)]
        out.append(Broker(name, latency + 25 * (i // len(_PROFILES)), spread, offset, digits,
                          every, pause, 7.0 * i, phase))
    return tuple(out)


#: Draws of one epoch of the path (see the module): a fast-forward within one takes at most
#: a few seconds (1.4 us a draw measured on the 2-core CI machine: 5.9 s for a whole epoch).
EPOCH_DRAWS = 1 << 22


class SimSource:
    """Paces ``SimModel`` at ``rate`` ticks/s, as one broker. Implements ``TickSource``."""

    exhausted = False  # a live source never ends

    def __init__(
        self,
        symbols: tuple[str, ...] | list[str],
        *,
        seed: int = 0,
        rate: float = 50.0,
        # Limits
        max_batch: int = 10_000,
        # Polling
        poll_interval: float = POLL_INTERVAL,
        # Several brokers
        broker: Broker | None = None,
        started_ns: int | None = None,  # the common start of every broker's path
        clock_ns: Callable[[], int] = time.time_ns,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be > 0 ticks/s")
        self._symbols = tuple(symbols)
        self._seed = seed
        self.model = self._model(0)
        self.broker = broker or Broker(VENUE)
        self.venue = self.broker.name
        self._lag_ns = int(self.broker.latency_ms * 1_000_000)
        self._started_ns = started_ns
        self._inst = {s: instrument_for(s) for s in self.model.symbols}
        self.rate = rate
        self.max_batch = max_batch
        self.poll_interval = poll_interval
        self._clock_ns = clock_ns
        self._sleep = sleep
        self._start_ns = 0
        self._emitted = 0
        self._last_msc = 0
        self._last_read = -1  # the grid point last read (a count of poll intervals)
        self.fresh_starts: dict[str, int] = {}  # the simulator has no history to resume

    def _model(self, epoch: int) -> SimModel:
        """The path's model from the start of ``epoch``: epoch 0 is the plain seed's."""
        return SimModel(self._symbols, seed=self._seed if epoch == 0 else
                        f"{self._seed}/epoch {epoch}")

    def open(self, positions: Mapping[str, Position]) -> None:
        self._start_ns = self._clock_ns() if self._started_ns is None else self._started_ns
        # Never stamp a time before what is already stored (a restarted simulator).
        self._last_msc = max((p.broker_msc for p in positions.values()), default=0)
        # A restart under a common start that has passed: take the path up now.
        due = max(0, self._due(self._clock_ns()))
        if due:
            epoch = due // EPOCH_DRAWS
            self.model = self._model(epoch)
            self.model.skip(due - epoch * EPOCH_DRAWS)
            self._emitted = due

    def _due(self, now_ns: int) -> int:
        return int((now_ns - self._start_ns - self._lag_ns) / 1e9 * self.rate) - self._emitted

    def _next_read(self) -> int:
        """Nanoseconds after the start when a read next finds ticks: when the next one is
        due; for a feed read every ``poll_interval``, like a terminal, the first read of its
        grid from then on (its points ``read_phase`` of an interval after the start's), and
        never before the read after the last one (a tick that comes due just after a read
        waits for the next, as it would at a terminal)."""
        due_at = math.ceil((self._emitted + 1) * 1e9 / self.rate) + self._lag_ns
        step = self._step_ns()
        if step <= 0:
            return due_at
        phase = self._phase_ns()
        return max(-(-(due_at - phase) // step), self._last_read + 1) * step + phase

    def _step_ns(self) -> int:
        """The poll interval in ns (the grid reads fall on; 0: no grid)."""
        return round(self.poll_interval * 1e9)

    def _phase_ns(self) -> int:
        """Where in each poll interval the broker's reads fall, in ns (``read_phase``)."""
        return round(self.broker.read_phase * self._step_ns())

    def poll(self, timeout: float) -> list[Tick]:
        now_ns = self._clock_ns()
        read_at = self._start_ns + self._next_read()
        if now_ns < read_at:
            if timeout <= 0:
                return []
            self._sleep(min(timeout, (read_at - now_ns) / 1e9))
            now_ns = self._clock_ns()
            if now_ns < read_at:
                return []
        step = self._step_ns()
        if step > 0:  # this read's place on the grid
            self._last_read = (now_ns - self._start_ns - self._phase_ns()) // step
        due = self._due(now_ns)
        if due <= 0:
            return []
        due = min(due, self.max_batch)
        ticks: list[Tick] = []
        # Emit what is due, then finish any open burst so that its ticks share one millisecond.
        # The event time is when a tick was due, as a feed would have had it.
        at_ns, msc = now_ns, self._last_msc
        venue, plain, taken = self.venue, self.broker.plain, 0
        while due > 0 or self.model.in_burst:
            drawn = self._emitted + taken
            if drawn % EPOCH_DRAWS == 0 and drawn:
                self.model = self._model(drawn // EPOCH_DRAWS)  # a burst ends here too
                if due <= 0:
                    break
            symbol, bid, ask, flags, burst_index = next(self.model)
            if burst_index == 0 or not msc:  # a burst begins, or is taken up midway first
                at_ns = min(now_ns, self._start_ns + self._lag_ns
                            + int((self._emitted + taken + 1) * 1e9 / self.rate))
                msc = max(at_ns // 1_000_000, msc)
            taken += 1
            due -= 1
            if not plain:
                if self._paused(at_ns):
                    continue  # the broker is silent: the move passes it by
                bid, ask = self._quote(symbol, bid, ask)
            ticks.append(Tick(venue, symbol, 0, msc, bid, ask, 0.0, 0, 0.0, flags, now_ns, msc))
        self._last_msc = msc
        self._emitted += taken
        return ticks

    def _paused(self, at_ns: int) -> bool:
        every = self.broker.pause_every_s
        if every <= 0:
            return False
        t = (at_ns - self._start_ns) / 1e9 + self.broker.pause_phase_s
        return t % every < self.broker.pause_s

    def _quote(self, symbol: str, bid: float, ask: float) -> tuple[float, float]:
        """The underlying quote as this broker shows it: its level, spread and digits."""
        inst = self._inst[symbol]
        broker = self.broker
        digits = inst.digits - broker.fewer_digits if inst.digits >= 3 else inst.digits
        mid = (bid + ask) / 2 + broker.offset_points * 10.0 ** -inst.digits
        half = (ask - bid) / 2 * broker.spread_factor
        tick_size = 10.0 ** -digits
        b = round(mid - half, digits)
        return b, round(max(mid + half, b + tick_size), digits)

    def status(self) -> str:
        return f"simulating {self.rate:g} ticks/s"

    def close(self) -> None:
        pass
