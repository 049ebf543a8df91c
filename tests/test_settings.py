"""Settings: typed NEWS_* readers with bounds, one-line errors naming the variable."""

from __future__ import annotations

import subprocess
import sys

import pytest

from config.settings import Settings, SettingsError, describe, load_settings
from tests.celeryproc import ROOT


def test_defaults_without_environment():
    s = load_settings({})
    assert s == Settings()
    assert s.redis_url is None
    assert s.store_url == "sqlite:///./data/articles.db"
    assert s.feeds_file == "config/feeds.toml"
    assert s.fetch_allow_private is False
    assert s.host_rate == 1.0 and s.host_burst == 2


@pytest.mark.parametrize(
    ("env", "field", "value"),
    [
        ({"NEWS_REDIS_URL": "redis://h:1/2"}, "redis_url", "redis://h:1/2"),
        ({"NEWS_FETCH_ALLOW_PRIVATE": "yes"}, "fetch_allow_private", True),
        ({"NEWS_FETCH_ALLOW_PRIVATE": "0"}, "fetch_allow_private", False),
        ({"NEWS_HOST_RATE": "2.5"}, "host_rate", 2.5),
        ({"NEWS_SEEN_TTL": "86_400"}, "seen_ttl", 86400),
        (
            {"NEWS_FETCH_ALLOW_NETWORKS": "10.1.0.0/16, 127.0.0.1"},
            "fetch_allow_networks",
            ("10.1.0.0/16", "127.0.0.1/32"),
        ),
        (
            {"NEWS_HOST_RATES": "a.example=0.5,B.example=3"},
            "host_rates",
            (("a.example", 0.5), ("b.example", 3.0)),
        ),
        ({"NEWS_STORE_URL": "postgresql://u@h/db"}, "store_url", "postgresql://u@h/db"),
    ],
)
def test_values_are_parsed(env, field, value):
    assert getattr(load_settings(env), field) == value


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"NEWS_HOST_RATE": "fast"}, "NEWS_HOST_RATE: expected a number"),
        ({"NEWS_HOST_BURST": "0"}, "NEWS_HOST_BURST: must be between 1"),
        ({"NEWS_FETCH_ALLOW_PRIVATE": "maybe"}, "NEWS_FETCH_ALLOW_PRIVATE: expected one of"),
        ({"NEWS_STORE_URL": "mysql://x"}, "NEWS_STORE_URL: expected a URL starting with"),
        ({"NEWS_REDIS_URL": "localhost:6379"}, "NEWS_REDIS_URL: expected a URL"),
        ({"NEWS_FETCH_ALLOW_NETWORKS": "10.0.0.0/33"}, "NEWS_FETCH_ALLOW_NETWORKS: '10.0.0.0/33'"),
        ({"NEWS_DUPLICATES": "merge"}, "NEWS_DUPLICATES: expected one of keep, drop"),
        (
            {"NEWS_POLL_MIN_INTERVAL": "9000", "NEWS_POLL_MAX_INTERVAL": "600"},
            "NEWS_POLL_MIN_INTERVAL (9000) is above NEWS_POLL_MAX_INTERVAL",
        ),
    ],
)
def test_wrong_values_name_the_variable(env, message):
    with pytest.raises(SettingsError) as err:
        load_settings(env)
    assert str(err.value).startswith(message)


def test_every_setting_is_documented():
    rows = describe()
    assert len(rows) == len(Settings.__dataclass_fields__)
    assert all(name.startswith("NEWS_") and doc for name, _, doc in rows)


def test_a_wrong_setting_stops_the_cli_with_one_line():
    env = {"PATH": "/usr/bin:/bin", "NEWS_HOST_RATE": "-3", "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-m", "worker.cli", "settings"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "newsworker: NEWS_HOST_RATE: must be between 0.001 and 1000, got -3.0"
    ]


def test_the_readme_documents_every_setting():
    readme = (ROOT / "README.md").read_text()
    missing = [name for name, _, _ in describe() if f"`{name}`" not in readme]
    assert missing == []
