"""arbitrex.history: the store's ticks in (time_msc, seq) order, filtered, and bars of them."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from arbitrex import history
from arbitrex.bars import make_bars
from arbitrex.errors import ConfigError
from tests.history import T0, fill


def test_read_and_bars_from_the_store_the_settings_name(tmp_path: Path) -> None:
    fill(tmp_path / "ticks.db", 900).close()
    env = tmp_path / ".env"
    env.write_text(f"SQLITE_PATH={tmp_path / 'ticks.db'}\n")
    ticks = list(history.read(env_file=env))
    assert len(ticks) == 900
    assert [history.order_key(t) for t in ticks] == sorted(map(history.order_key, ticks))
    start = datetime.fromtimestamp((T0 + 1000) / 1000, tz=timezone.utc)
    some = list(history.read(["EURUSD"], start=start, end=T0 + 3000, env_file=env))
    assert some and {t.symbol for t in some} == {"EURUSD"}
    assert all(T0 + 1000 <= t.time_msc < T0 + 3000 for t in some)
    assert list(history.read(["EURUSD"], start="1970-01-01T00:00:00Z", env_file=env)) == [
        t for t in ticks if t.symbol == "EURUSD"]
    assert list(history.bars("1s", env_file=env)) == list(make_bars(ticks, 1000))
    pytest.importorskip("pyarrow")
    table = history.table(["EURUSD"], env_file=env)
    assert table.num_rows == len([t for t in ticks if t.symbol == "EURUSD"])
    assert table.column("seq").to_pylist()[:3] == [t.seq for t in ticks
                                                   if t.symbol == "EURUSD"][:3]


def test_a_bad_time_names_the_argument() -> None:
    with pytest.raises(ConfigError) as caught:
        history.epoch_ms("yesterday", "start")
    assert caught.value.setting == "start"
