"""deploy/: the alert rules and the Grafana dashboard use only metrics we serve, the systemd
units run commands that exist, and their environment file is valid settings."""

from __future__ import annotations

import json
import re
import shlex
from configparser import ConfigParser

import pytest
import yaml

from config.settings import env_name, load_settings
from tasks import metrics
from tests.celeryproc import ROOT
from worker.cli import build_parser

pytestmark = pytest.mark.integration  # the metric names come from a real (empty) Redis scrape
DEPLOY = ROOT / "deploy"
NAME = re.compile(r"\bnewsworker_[a-z_]+\b")


@pytest.fixture
def served(redis_client, keys) -> set[str]:
    fams = metrics.families(
        redis_client, keys, load_settings({}), queues=("feeds",), store_articles=0, now=0.0
    )
    return {f.name for f in fams}


def test_alert_rules_cover_the_issue_and_use_served_metrics(served):
    rules = yaml.safe_load((DEPLOY / "prometheus-alerts.yml").read_text())["groups"][0]["rules"]
    by_name = {r["alert"]: r for r in rules}
    assert {"NewsworkerFeedFailing", "NewsworkerQueueGrowing", "NewsworkerNothingStored"} <= set(
        by_name
    )
    assert "6 * 3600" in by_name["NewsworkerFeedFailing"]["expr"]
    assert "[15m" in by_name["NewsworkerQueueGrowing"]["expr"]
    assert "[1h]" in by_name["NewsworkerNothingStored"]["expr"]
    used = {n for r in rules for n in NAME.findall(r["expr"])}
    assert used and used <= served, used - served


def test_dashboard_uses_served_metrics(served):
    dash = json.loads((DEPLOY / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    used = {n for e in exprs for n in NAME.findall(e)}
    assert len(dash["panels"]) >= 12 and used <= served, used - served
    assert served - used <= {"newsworker_feeds"}  # every metric is on the dashboard


def test_systemd_units_run_real_commands_with_valid_settings():
    env = {}
    for line in (DEPLOY / "systemd" / "newsworker.env").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key] = value
    settings = load_settings(env)  # every value parses
    assert all(
        hasattr(settings, k[len("NEWS_") :].lower()) and env_name(k[5:].lower()) == k for k in env
    )
    units = sorted((DEPLOY / "systemd").glob("*.service"))
    assert {u.name for u in units} >= {
        "newsworker-worker@.service",
        "newsworker-beat.service",
        "newsworker-metrics.service",
    }
    for unit in units:
        parser = ConfigParser(interpolation=None, strict=False)
        parser.read(unit)
        argv = shlex.split(parser["Service"]["ExecStart"])
        assert parser["Service"]["EnvironmentFile"] == "/etc/newsworker/env"
        if argv[0].endswith("/newsworker"):
            build_parser().parse_args(argv[1:])  # exits on an unknown command or option
        else:
            assert argv[0].endswith("/celery") and argv[1:4] == ["-A", "worker.app", "--quiet"]
            assert argv[4] in ("worker", "beat")
