from itertools import islice

from arbitrex.sources.sim import SimModel, SimSource


def take(model: SimModel, n: int) -> list:
    return list(islice(model, n))


def test_same_seed_same_prices_other_seed_other_prices():
    symbols = ["EURUSD", "USDJPY", "XAUUSD"]
    assert take(SimModel(symbols, seed=7), 500) == take(SimModel(symbols, seed=7), 500)
    assert take(SimModel(symbols, seed=7), 500) != take(SimModel(symbols, seed=8), 500)


def test_prices_and_spreads_are_realistic():
    ticks = take(SimModel(["EURUSD", "USDJPY", "XAUUSD"], seed=1), 3000)
    by = {s: [(b, a) for sym, b, a, _, _ in ticks if sym == s] for s in ("EURUSD", "USDJPY",
                                                                         "XAUUSD")}
    for symbol, (low, high, max_spread) in {"EURUSD": (1.0, 1.2, 0.0003),
                                            "USDJPY": (140, 160, 0.03),
                                            "XAUUSD": (1900, 2100, 1.0)}.items():
        assert by[symbol], symbol
        for bid, ask in by[symbol]:
            assert low < bid < ask < high, (symbol, bid, ask)
            assert ask - bid <= max_spread, (symbol, bid, ask)
    eur = by["EURUSD"]
    assert all(round(p, 5) == p for pair in eur for p in pair)  # 5 digits
    assert min(a - b for b, a in eur) < 0.0001  # a fraction of a pip happens


class FakeClock:
    def __init__(self) -> None:
        self.ns = 1_800_000_000_000_000_000

    def now(self) -> int:
        return self.ns

    def sleep(self, seconds: float) -> None:
        self.ns += int(seconds * 1e9)


def test_rate_is_kept_and_bursts_share_a_millisecond():
    clock = FakeClock()
    source = SimSource(["EURUSD", "GBPUSD"], seed=3, rate=1000, clock_ns=clock.now,
                       sleep=clock.sleep)
    source.open({})
    ticks = []
    for _ in range(2000):  # 2 simulated seconds polled every millisecond
        clock.ns += 1_000_000
        ticks.extend(source.poll(0.0))
    assert 1950 <= len(ticks) <= 2100
    assert all(t.venue == "sim" for t in ticks)
    times = [t.time_msc for t in ticks]
    assert times == sorted(times)
    same_ms = sum(1 for a, b in zip(ticks, ticks[1:], strict=False) if a.time_msc == b.time_msc
                  and a.symbol == b.symbol)
    assert same_ms > 20  # bursts of one symbol inside one millisecond


def test_poll_waits_no_longer_than_timeout():
    clock = FakeClock()
    source = SimSource(["EURUSD"], rate=1, clock_ns=clock.now, sleep=clock.sleep)
    source.open({})
    before = clock.ns
    assert source.poll(0.1) == []
    assert clock.ns - before <= 100_000_000


def test_ticks_carry_when_they_were_due_and_when_they_were_read():
    """Like the MT5 source: the event time is the feed's (when due), recv_ns the read's."""
    clock = FakeClock()
    source = SimSource(["EURUSD"], rate=1000, clock_ns=clock.now, sleep=clock.sleep)
    source.open({})
    start = clock.ns
    clock.ns += 10_000_000  # a collector that polls 10 ms late
    ticks = source.poll(0.0)
    assert {t.recv_ns for t in ticks} == {clock.ns}  # received now
    assert ticks[0].time_msc <= (start + 2_000_000) // 1_000_000  # due at once
    assert ticks[-1].time_msc - ticks[0].time_msc >= 8  # spread over the 10 ms
    assert all(a.time_msc <= b.time_msc <= clock.ns // 1_000_000
               for a, b in zip(ticks, ticks[1:], strict=False))


def test_the_feed_is_read_every_poll_interval():
    clock = FakeClock()
    source = SimSource(["EURUSD"], rate=1000, poll_interval=0.004, clock_ns=clock.now,
                       sleep=clock.sleep)
    source.open({})
    start = clock.ns
    sizes = []
    for _ in range(5):
        sizes.append(len(source.poll(1.0)))
        assert (clock.ns - start) % 4_000_000 == 0  # woke on a 4 ms boundary
    assert clock.ns - start == 20_000_000 and sum(sizes) >= 18 and min(sizes) >= 3


def test_a_tick_due_just_after_a_read_waits_for_the_next_read():
    """A collector that stores a read for longer than one tick's interval finds the next
    tick due as it comes back: it is read at the next 10 ms, with the ticks due by then, not
    at once on its own (one read of a terminal per poll interval)."""
    clock = FakeClock()
    source = SimSource(["EURUSD"], rate=2000, poll_interval=0.01, clock_ns=clock.now,
                       sleep=clock.sleep)
    source.open({})
    start = clock.ns
    sizes = []
    for _ in range(6):
        sizes.append(len(source.poll(1.0)))
        assert (clock.ns - start) % 10_000_000 == 0  # read on a 10 ms boundary
        clock.ns += 700_000  # the store takes 0.7 ms: the next tick is due meanwhile
        assert source.poll(0.0) == []  # a look between two reads finds nothing
    # 20 a read, give or take a burst that a read finishes (its ticks share a millisecond)
    assert min(sizes) >= 15 and abs(sum(sizes) - 120) <= 5, sizes


def brokers_run(names: list[str], seconds: float, seed: int = 0, rate: float = 50.0,
                symbols: tuple[str, ...] = ("EURUSD", "GBPUSD", "USDJPY", "XAUUSD")
                ) -> dict[str, list]:
    """Each simulated broker as its own source (as each runs in a process of its own),
    from one common start, read every 10 ms of a simulated clock."""
    from arbitrex.sources.sim import brokers_for

    start = 1_800_000_000_000_000_000
    out = {}
    for broker in brokers_for(names):
        clock = FakeClock()
        clock.ns = start + 400_000_000  # a worker starts a little after its parent
        source = SimSource(symbols, seed=seed, rate=rate, broker=broker, started_ns=start,
                           clock_ns=clock.now, sleep=clock.sleep)
        source.open({})
        ticks = []
        while clock.ns < start + seconds * 1e9:
            clock.ns += 10_000_000
            ticks.extend(source.poll(0.0))
        out[broker.name] = ticks
    return out


def test_several_brokers_quote_one_path_with_their_own_spread_lag_and_pauses():
    runs = brokers_run(["icm", "pepper", "oanda"], 130)
    assert runs == brokers_run(["icm", "pepper", "oanda"], 130)  # same seed, same ticks
    for name, ticks in runs.items():
        assert ticks and all(t.venue == name for t in ticks)
        times = [t.time_msc for t in ticks]
        assert times == sorted(times)
    # pepper and oanda pause now and then for longer than a view calls stale (10 s)
    for name in ("pepper", "oanda"):
        times = [t.time_msc for t in runs[name]]
        assert max(b - a for a, b in zip(times, times[1:], strict=False)) > 10_000, name
    # oanda quotes one decimal fewer
    assert all(round(t.bid, 4) == t.bid for t in runs["oanda"] if t.symbol == "EURUSD")
    assert any(round(t.bid, 4) != t.bid for t in runs["icm"] if t.symbol == "EURUSD")


def test_brokers_cross_every_few_seconds_at_the_default_rate():
    """The README: at the default rate, a symbol's brokers cross at least once every few
    seconds (a bid at one above the ask at another), as latency makes it between real brokers."""
    from arbitrex.stream.best import Book

    runs = brokers_run(["icm", "pepper", "oanda"], 60)
    merged = sorted((t.with_seq(i) for ticks in runs.values() for i, t in enumerate(ticks, 1)),
                    key=lambda t: (t.time_msc, t.venue))  # as stored: seq per broker
    book, crossed_at = Book(), dict[str, list[int]]()
    for tick in merged:
        book.update([tick])
        view = book.view(tick.symbol)
        if view is not None and view.top_edge is not None and view.top_edge > 0:
            crossed_at.setdefault(tick.symbol, []).append(tick.time_msc)
    start = merged[0].time_msc
    for symbol in ("EURUSD", "GBPUSD", "USDJPY", "XAUUSD"):
        moments = [start, *crossed_at.get(symbol, []), start + 60_000]
        longest = max(b - a for a, b in zip(moments, moments[1:], strict=False))
        assert longest <= 10_000, (symbol, longest, len(moments) - 2)


def test_one_broker_quotes_the_path_as_it_is():
    plain = brokers_run(["sim"], 5)["sim"]
    named = brokers_run(["icm"], 5)["icm"]
    assert [t[2:] for t in plain] == [t[2:] for t in named]  # only the venue differs


def test_a_restarted_broker_takes_the_path_up_now_without_a_backlog():
    """A broker's worker restarted after 20 minutes quotes what its first run would have
    quoted from that moment on (the model fast-forwarded, nothing emitted for the past)."""
    from arbitrex.model.tick import Position
    from arbitrex.sources import sim
    from arbitrex.sources.sim import brokers_for

    start = 1_800_000_000_000_000_000
    broker = brokers_for(["icm", "pepper"])[1]

    def run(from_s: float, to_s: float, positions=None) -> list:
        clock = FakeClock()
        clock.ns = start + int(from_s * 1e9)
        source = SimSource(["EURUSD", "XAUUSD"], rate=200, broker=broker, started_ns=start,
                           clock_ns=clock.now, sleep=clock.sleep)
        source.open(positions or {})
        ticks = []
        while clock.ns < start + to_s * 1e9:
            clock.ns += 10_000_000
            ticks.append(source.poll(0.0))
        return ticks

    first = [t for batch in run(0.4, 1203) for t in batch]
    restart_ms = start // 1_000_000 + 1200_000
    stored = max(t.time_msc for t in first if t.time_msc < restart_ms - 30_000)
    batches = run(1200, 1203, {"EURUSD": Position(9, stored, 1)})
    assert max(len(b) for b in batches) <= 10  # 200 ticks/s read every 10 ms, bursts
    again = [t for batch in batches for t in batch]
    assert again and min(t.time_msc for t in again) >= restart_ms - 400  # its feed latency
    later = [(t.time_msc, t.symbol, t.bid, t.ask) for t in again if t.time_msc >= restart_ms]
    assert later == [(t.time_msc, t.symbol, t.bid, t.ask) for t in first
                     if restart_ms <= t.time_msc < later[-1][0] + 1]
    # past an epoch's end too, where the path starts again from a seed of its own
    sim.EPOCH_DRAWS, before = 1000, sim.EPOCH_DRAWS
    try:
        whole = [(t.time_msc, t.bid) for b in run(0.4, 30) for t in b
                 if t.time_msc >= start // 1_000_000 + 20_000]
        part = [(t.time_msc, t.bid) for b in run(20, 30) for t in b]
        assert part and part[-50:] == whole[-50:]
    finally:
        sim.EPOCH_DRAWS = before


def test_several_brokers_are_read_out_of_step():
    """Terminals in processes of their own are not read at the same moments: each broker's
    reads fall on its own point of the poll interval (else every collector's commit, and
    every wake-up of serve, would come at once). One broker reads on the start's grid."""
    from arbitrex.sources.sim import brokers_for

    start = 1_800_000_000_000_000_000
    phases = {}
    for broker in (*brokers_for(["icm", "pepper", "oanda"]), *brokers_for(["sim"])):
        clock = FakeClock()
        clock.ns = start
        source = SimSource(["EURUSD"], rate=1000, broker=broker, started_ns=start,
                           poll_interval=0.01, clock_ns=clock.now, sleep=clock.sleep)
        source.open({})
        seen, reads = set(), 0
        for _ in range(3000):  # 30 s: a broker's pauses (12 s) end meanwhile
            if source.poll(1.0):
                seen.add((clock.ns - start) % 10_000_000)
                reads += 1
        assert reads > 100 and len(seen) == 1, (broker.name, reads, seen)  # on its own grid
        phases[broker.name] = seen.pop()
    assert phases == {"icm": 0, "pepper": 4_500_000, "oanda": 8_000_000, "sim": 0}


def test_a_broker_started_in_the_middle_of_a_burst_stamps_its_first_ticks():
    """A collector started after the common start takes the path up where it is, possibly
    in the middle of a burst: with no tick before it, the burst's ticks are stamped when
    they were due, not with 0 (which collect rejects: one tick lost)."""
    from arbitrex.sources.sim import brokers_for

    start = 1_800_000_000_000_000_000
    broker = brokers_for(["icm", "pepper", "oanda"])[0]
    stamped = 0
    for k in range(100):
        clock = FakeClock()
        clock.ns = start + k * 77_777_777  # started this late after the common start
        source = SimSource(["EURUSD", "GBPUSD", "USDJPY", "XAUUSD"], rate=50, broker=broker,
                           started_ns=start, poll_interval=0.01, clock_ns=clock.now,
                           sleep=clock.sleep)
        source.open({})
        for _ in range(20):
            for t in source.poll(1.0):
                assert t.time_msc > 0, (k, t)
                stamped += 1
    assert stamped > 100
