"""Settings that used to pass and then crash (issue 11 items 5 and 8): each is refused when
settings load, in one line naming the variable, by every command."""

from __future__ import annotations

import pytest

from config.settings import SettingsError, load_settings
from tasks.store import open_store
from worker.cli import main

BAD_STORE_URLS = [
    "sqlite:///",
    "sqlite://relative.db",
    "sqlite:////",
    "postgres://[::1/db",
    "postgresql://u@127.0.0.1:99999/db",
    "postgresql://u@127.0.0.1:1/db?schema=bad-name;drop",
]


@pytest.mark.parametrize("url", BAD_STORE_URLS)
def test_store_urls_that_cannot_open_are_refused_at_load(url):
    with pytest.raises(SettingsError, match="^NEWS_STORE_URL: "):
        load_settings({"NEWS_STORE_URL": url})
    with pytest.raises(ValueError):  # open_store refuses them the same way, never a crash
        open_store(url)


@pytest.mark.parametrize("command", [["export"], ["settings"], ["run"]])
@pytest.mark.parametrize("url", ["sqlite:///", "postgres://[::1/db"])
def test_every_command_ends_in_one_line_naming_the_store_url(monkeypatch, capsys, command, url):
    monkeypatch.setenv("NEWS_STORE_URL", url)
    assert main(command) == 2
    err = capsys.readouterr().err
    assert err.startswith("newsworker: NEWS_STORE_URL: ") and err.count("\n") == 1


def test_good_store_urls_still_load(tmp_path):
    for url in (
        "sqlite:///data/a.db",
        f"sqlite:///{tmp_path}/a.db",
        "postgresql://u@127.0.0.1:5432/test?schema=news_1",
        "postgres://u@[::1]:5432/db",
    ):
        assert load_settings({"NEWS_STORE_URL": url}).store_url == url


@pytest.mark.parametrize("agent", ["bot/1\r\nX-Injected: 1", "bot/1\nx", "bot\x00"])
def test_a_user_agent_with_control_characters_is_refused(agent):
    with pytest.raises(SettingsError, match="^NEWS_USER_AGENT: must not contain control"):
        load_settings({"NEWS_USER_AGENT": agent})


def test_a_missing_ca_bundle_is_named_with_its_variable(tmp_path, monkeypatch, capsys):
    missing = tmp_path / "nope.pem"
    monkeypatch.setenv("NEWS_CA_BUNDLE", str(missing))
    assert main(["settings"]) == 2
    assert capsys.readouterr().err == f"newsworker: NEWS_CA_BUNDLE: no such file '{missing}'\n"
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")
    assert load_settings({"NEWS_CA_BUNDLE": str(bundle)}).ca_bundle == str(bundle)


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("intranet.example:8080", ("intranet.example:8080",)),
        (" 10.0.0.5:443, [FD00::1]:80 ", ("10.0.0.5:443", "[fd00::1]:80")),
    ],
)
def test_allow_hosts_reads_host_port_pairs(raw, value):
    assert load_settings({"NEWS_FETCH_ALLOW_HOSTS": raw}).fetch_allow_hosts == value


@pytest.mark.parametrize("raw", ["intranet.example", "h:99999", "h:80/x", "u@h:80", ":80"])
def test_allow_hosts_refuses_what_is_not_host_port(raw):
    with pytest.raises(SettingsError, match="^NEWS_FETCH_ALLOW_HOSTS: "):
        load_settings({"NEWS_FETCH_ALLOW_HOSTS": raw})
