"""docker-compose.yml: no Docker engine runs here, so check the file itself — every role is
there, exactly one beat, Flower behind basic auth, and each command resolves to a real
Celery sub-command of our app."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from tests.celeryproc import ROOT

pytestmark = pytest.mark.integration  # runs the commands' --help through Celery


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_every_role_is_a_service(compose):
    services = compose["services"]
    assert {"redis", "postgres", "feeds", "pages", "store", "beat", "flower"} <= set(services)
    beats = [n for n, s in services.items() if "beat" in (s.get("command") or [])]
    assert beats == ["beat"]
    queues = {
        s["command"][s["command"].index("-Q") + 1]
        for s in services.values()
        if "-Q" in (s.get("command") or [])
    }
    assert queues == {"feeds", "pages", "store"}


def test_one_image_and_news_settings_wired(compose):
    ours = {n: s for n, s in compose["services"].items() if n not in ("redis", "postgres")}
    assert {s["image"] for s in ours.values()} == {"newsworker:latest"}
    for service in ours.values():
        env = service["environment"]
        assert env["NEWS_REDIS_URL"].startswith("redis://redis:")
        assert env["NEWS_STORE_URL"].startswith("postgresql://")


def test_flower_has_basic_auth(compose):
    assert "FLOWER_BASIC_AUTH" in compose["services"]["flower"]["environment"]


@pytest.mark.parametrize("service", ["feeds", "pages", "store", "beat", "flower"])
def test_commands_resolve(compose, service):
    command = compose["services"][service]["command"]
    assert command[:3] == ["celery", "-A", "worker.app"]
    sub = command[3]
    out = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "worker.app", sub, "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    known = out.stdout
    if sub == "flower":  # Flower's options are tornado options, not listed by --help
        from flower.options import options

        known = " ".join(f"--{name}" for name in options._options)
    for option in (a.split("=")[0] for a in command[4:] if a.startswith("--")):
        assert option in known, f"{service}: {option} is not an option of celery {sub}"


@pytest.mark.parametrize("service", ["feeds", "pages", "store", "beat"])
def test_workers_and_beat_have_a_health_check_our_cli_accepts(compose, service):
    import shlex

    from worker.cli import build_parser
    from worker.cli.ops import CHECKS

    check = compose["services"][service]["healthcheck"]
    test = check["test"]
    argv = shlex.split(test[1]) if test[0] == "CMD-SHELL" else test[1:]
    assert argv[:2] == ["newsworker", "health"]
    args = build_parser().parse_args([a.replace("$$HOSTNAME", "host") for a in argv[1:]])
    checks = args.check.split(",")
    assert set(checks) <= set(CHECKS) and "redis" in checks
    if service == "beat":
        assert "beat" in checks and "worker" not in checks
    else:  # the worker of this container, by the node name its command gives it
        command = compose["services"][service]["command"]
        node = command[command.index("-n") + 1].replace("%h", "host")
        assert "worker" in checks and args.node == node
    assert check["start_period"] and check["interval"]


def test_metrics_service_asks_for_basic_auth_and_flower_stays_local(compose):
    services = compose["services"]
    metrics = services["metrics"]
    assert metrics["command"] == ["newsworker", "metrics"]
    assert metrics["environment"]["NEWS_METRICS_BASIC_AUTH"].startswith(
        "${NEWS_METRICS_BASIC_AUTH:?"
    )
    assert metrics["ports"] == ["9464:9464"]
    assert services["flower"]["ports"] == ["127.0.0.1:5555:5555"]  # its /metrics has no auth
