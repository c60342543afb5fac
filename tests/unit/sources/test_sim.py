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
