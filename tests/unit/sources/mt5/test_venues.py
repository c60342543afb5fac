"""arbitrex.toml: one terminal per venue, falling back to the settings, refusing nonsense
with the file, the venue and the key named."""

from __future__ import annotations

from pathlib import Path

import pytest

from arbitrex.config import Secret, load_settings
from arbitrex.errors import ConfigError
from arbitrex.sources.mt5.venues import default_venue, load_venues

SETTINGS = load_settings(environ={"SYMBOLS": "EURUSD,GBPUSD", "BROKER_TIMEZONE": "+02:00",
                                  "MT5_TIMEOUT_MS": "5000"}, env_file="/nonexistent/.env")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "arbitrex.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_two_terminals_with_their_own_keys_and_the_settings_beneath(tmp_path: Path) -> None:
    path = write(tmp_path, r'''
[[venues]]
name = "icm"
MT5_PATH = 'C:\Program Files\ICM MT5\terminal64.exe'
MT5_LOGIN = 1234567
MT5_PASSWORD = "s3cret"
MT5_SERVER = "ICMarketsSC-Demo"
BROKER_TIMEZONE = "Europe/Athens"
symbols = ["EURUSD"]
[venues.aliases]
EURUSD = "EURUSD.a"

[[venues]]
name = "pepper"
''')
    icm, pepper = load_venues(path, SETTINGS)
    assert icm.name == "icm" and icm.symbols == ("EURUSD",)
    assert icm.mt5_path == r"C:\Program Files\ICM MT5\terminal64.exe"
    assert icm.mt5_login == 1234567 and icm.mt5_password == Secret("s3cret")
    assert icm.broker_timezone == "Europe/Athens" and icm.aliases == {"EURUSD": "EURUSD.a"}
    assert "s3cret" not in repr(icm)
    # not given: the settings' values
    assert pepper.symbols == ("EURUSD", "GBPUSD") and pepper.broker_timezone == "+02:00"
    assert pepper.mt5_timeout_ms == 5000 and pepper.mt5_login is None


def test_symbols_given_on_the_command_line_win_over_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[[venues]]\nname = "icm"\nsymbols = ["USDJPY"]\n')
    assert load_venues(path, SETTINGS, symbols_flag=True)[0].symbols == ("EURUSD", "GBPUSD")


def test_without_a_file_one_venue_from_the_settings() -> None:
    venue = default_venue(SETTINGS)
    assert venue.name == "mt5" and venue.symbols == ("EURUSD", "GBPUSD")


@pytest.mark.parametrize("text, words", [
    ("[[venues]\nname=", "not valid TOML"),
    ("title = 'x'\n", "no [[venues]] table"),
    ('[[venues]]\nname = "a b"\n', "not a valid venue name"),
    ('[[venues]]\nname = "icm"\n[[venues]]\nname = "icm"\n', "venue names repeat: icm"),
    ('[[venues]]\nname = "icm"\nMT5_LOGN = 1\n', "unknown keys MT5_LOGN"),
    ('[[venues]]\nname = "icm"\nMT5_LOGIN = "abc"\n', "venue 1 MT5_LOGIN"),
    ('[[venues]]\nname = "icm"\nBROKER_TIMEZONE = "Mars/Base"\n', "unknown time zone"),
    ('[[venues]]\nname = "icm"\nsymbols = ["EUR/USD"]\n', "venue 1 symbols"),
    ('[[venues]]\nname = "icm"\naliases = {EURUSD = 1}\n', "aliases"),
])
def test_nonsense_is_a_config_error_naming_where(tmp_path: Path, text: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_venues(write(tmp_path, text), SETTINGS)
    assert words in str(caught.value) and caught.value.exit_code == 2


def test_an_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "arbitrex.toml"
    path.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ConfigError, match="cannot read it"):
        load_venues(path, SETTINGS)
