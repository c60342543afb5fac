import pytest

from arbitrex.config import FIELDS, Secret, check_settings, load_settings
from arbitrex.errors import ConfigError
from tests.conftest import REPO


def load(tmp_path, dotenv: str = "", environ=None, **flags):
    path = tmp_path / ".env"
    path.write_text(dotenv)
    return load_settings(flags=flags, env_file=path, environ=environ or {})


def test_defaults_match_the_spec(tmp_path):
    s = load(tmp_path)
    assert s.symbols == ("EURUSD", "GBPUSD", "USDJPY", "XAUUSD")
    assert (s.backend, s.sqlite_path, s.ws_host, s.ws_port) == ("sqlite", "data/ticks.db",
                                                                 "127.0.0.1", 8000)
    assert s.redis_url == "redis://localhost:6379/0" and s.redis_maxlen == 1_000_000
    assert s.disable_kafka is True and s.kafka_topic == "arbitrex.ticks"
    assert s.mt5_timeout_ms == 60000 and s.broker_timezone == "UTC" and s.log_level == "INFO"
    assert not s.kafka_enabled


def test_precedence_flag_over_environment_over_file_over_default(tmp_path):
    dotenv = "SYMBOLS=AAA\nWS_PORT=9001\nLOG_LEVEL=DEBUG\n"
    env = {"SYMBOLS": "BBB", "WS_PORT": "9002"}
    s = load(tmp_path, dotenv, env, SYMBOLS="CCC")
    assert s.symbols == ("CCC",) and s.ws_port == 9002 and s.log_level == "DEBUG"
    assert s.origins["SYMBOLS"] == "flag"
    assert s.origins["WS_PORT"] == "environment"
    assert s.origins["LOG_LEVEL"] == ".env"
    assert s.origins["WS_HOST"] == "default"


def test_quotes_and_spaces_are_stripped_with_a_warning(tmp_path):
    dotenv = 'SYMBOLS="EURUSD,GBPUSD"\nWS_HOST=  127.0.0.1  \n'
    s = load(tmp_path, dotenv, {"LOG_LEVEL": " 'WARNING' "})
    assert s.symbols == ("EURUSD", "GBPUSD") and s.ws_host == "127.0.0.1"
    assert s.log_level == "WARNING"
    assert {w.split(":")[0] for w in s.warnings} == {"SYMBOLS", "WS_HOST", "LOG_LEVEL"}


def test_unknown_keys_are_warned_with_a_suggestion(tmp_path):
    path = tmp_path / ".env"
    path.write_text("SYMBOL=EURUSD\n")
    _, problems = check_settings(env_file=path, environ={})
    assert any(p.setting == "SYMBOL" and "did you mean SYMBOLS" in p.fix for p in problems)


@pytest.mark.parametrize("name, value, words", [
    ("WS_PORT", "eighty", "not a whole number"),
    ("WS_PORT", "70000", "outside"),
    ("TICK_QUEUE_BACKEND", "mongo", "not one of sqlite, redis"),
    ("DISABLE_KAFKA", "maybe", "not a boolean"),
    ("BROKER_TIMEZONE", "Mars/Base", "unknown time zone"),
    ("SYMBOLS", "EUR USD", "invalid symbol"),
    ("REDIS_URL", "localhost:6379", "not a redis:// URL"),
    ("MT5_BRIDGE", "nohost", "not host:port"),
])
def test_bad_values_name_the_setting_and_the_fix(tmp_path, name, value, words):
    with pytest.raises(ConfigError) as info:
        load(tmp_path, f"{name}={value}\n")
    assert info.value.setting == name
    assert words in str(info.value)
    assert "e.g." in info.value.fix


def test_secrets_never_show(tmp_path):
    s = load(tmp_path, "MT5_PASSWORD=hunter2\nWS_TOKEN=tok-secret\nMT5_LOGIN=5\nMT5_SERVER=x\n")
    assert isinstance(s.mt5_password, Secret) and s.mt5_password.reveal() == "hunter2"
    for text in (repr(s), str(s), str(s.shown())):
        assert "hunter2" not in text and "tok-secret" not in text
    assert dict((n, v) for n, v, _ in s.shown())["MT5_PASSWORD"] == "********"


def test_missing_mt5_credentials_are_warned(tmp_path):
    path = tmp_path / ".env"
    path.write_text("MT5_LOGIN=123\n")
    _, problems = check_settings(env_file=path, environ={})
    assert any("MT5_PASSWORD" in p.setting and p.level == "warn" for p in problems)


def test_kafka_needs_both_switch_and_servers(tmp_path):
    assert not load(tmp_path, "KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092\n").kafka_enabled
    assert load(tmp_path, "DISABLE_KAFKA=false\nKAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092\n"
                ).kafka_enabled


def test_empty_optional_value_means_unset(tmp_path):
    assert load(tmp_path, "WS_TOKEN=\n").ws_token is None


def test_env_example_lists_every_setting():

    text = (REPO / ".env.example").read_text()
    for spec in FIELDS:
        assert f"{spec.name}=" in text, spec.name


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le"])
def test_env_files_as_windows_editors_save_them(tmp_path, encoding):
    path = tmp_path / ".env"
    path.write_bytes("SYMBOLS=EURUSD,GBPUSD\r\nWS_PORT=8123\r\n".encode(encoding))
    settings = load_settings(env_file=path, environ={})
    assert settings.symbols == ("EURUSD", "GBPUSD") and settings.ws_port == 8123


def test_windows_paths_keep_their_backslashes_and_spaces(tmp_path):
    path = tmp_path / ".env"
    path.write_text('MT5_PATH="C:\\Program Files\\new terminal\\terminal64.exe"\n'
                    "SQLITE_PATH=D:\\ticks\\new.db\n"
                    "MT5_SERVER='Broker-Demo \\t'\n", encoding="utf-8")
    settings = load_settings(env_file=path, environ={})
    assert settings.mt5_path == "C:\\Program Files\\new terminal\\terminal64.exe"
    assert settings.sqlite_path == "D:\\ticks\\new.db"
    assert settings.mt5_server == "Broker-Demo \\t"


def test_an_env_file_in_no_known_encoding_is_one_clear_error(tmp_path):
    path = tmp_path / ".env"
    path.write_bytes(b"SYMBOLS=EUR\xff\xfeUSD\n")
    with pytest.raises(ConfigError, match="save it as UTF-8"):
        load_settings(env_file=path, environ={})


def test_costs_are_read_from_the_venues_file_and_bad_ones_are_named(tmp_path):
    from arbitrex.config import load_costs

    path = tmp_path / "arbitrex.toml"
    path.write_text('[costs.icm]\nEURUSD = 0.00007\n"*" = 0.00005\n[costs.pepper]\n"*" = 6e-5\n'
                    '[[venues]]\nname = "icm"\n')
    costs = load_costs(path)
    assert costs.of("icm", "EURUSD") == 0.00007 and costs.of("icm", "XAUUSD") == 0.00005
    assert costs.of("pepper", "EURUSD") == 0.00006 and costs.of("oanda", "EURUSD") == 0.0
    assert not load_costs(None) and costs
    for bad, named in (('[costs.icm]\nEURUSD = "cheap"\n', "costs.icm.EURUSD"),
                       ("[costs.icm]\nEURUSD = -1\n", "costs.icm.EURUSD"),
                       ("[costs.icm]\nEURUSD = true\n", "costs.icm.EURUSD"),
                       ('[costs]\nicm = 1\n', "costs.icm"),
                       ('[costs."b@d"]\nEURUSD = 1\n', "costs.b@d.EURUSD")):
        path.write_text(bad)
        with pytest.raises(ConfigError) as caught:
            load_costs(path)
        assert caught.value.setting == named and caught.value.exit_code == 2
