"""Politeness: robots.txt parsing (pure), the Redis token bucket, pauses, and the robots cache."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tasks.errors import HostBusy
from tasks.fetch.http import HttpClient
from tasks.fetch.politeness import HostBudget, Politeness, origin_of
from tasks.fetch.robots import RobotsRules, agent_token, parse_robots
from tests.hostile import closed_port, crawl_in_processes, hostile_settings
from tests.httpserver import Reply

ROBOTS = """
# comment
User-agent: *
Disallow: /private
Allow: /private/open
Disallow: /*.pdf$
Disallow:

User-agent: NewsWorker/2.0
User-agent: otherbot
Disallow: /mine
Allow: /mine/ok
Crawl-delay: 3
Sitemap: https://example.com/sitemap.xml
"""


def test_agent_token():
    assert agent_token("newsworker/0.1 (+https://x.example)") == "newsworker"
    assert agent_token("NewsWorker") == "newsworker"


def test_star_group_longest_match_and_wildcards():
    rules = parse_robots(ROBOTS, "somebot")
    assert not rules.allows("/private") and not rules.allows("/private/x?y=1")
    assert rules.allows("/private/open/page")
    assert not rules.allows("/files/a.pdf") and rules.allows("/files/a.pdf?x=1")
    assert rules.allows("/") and rules.allows("/public")
    assert rules.crawl_delay is None


def test_our_group_wins_over_star_and_keeps_crawl_delay():
    rules = parse_robots(ROBOTS, "newsworker")
    assert rules.allows("/private") and not rules.allows("/mine/x") and rules.allows("/mine/ok")
    assert rules.crawl_delay == 3.0


def test_allow_wins_a_tie_and_robots_txt_is_always_allowed():
    rules = parse_robots("User-agent: *\nDisallow: /a\nAllow: /a\nDisallow: /\n", "x")
    assert rules.allows("/a") and not rules.allows("/b") and rules.allows("/robots.txt")


def test_no_group_and_garbage_allow_everything():
    assert parse_robots("User-agent: otherbot\nDisallow: /\n", "newsworker").allows("/x")
    assert parse_robots("\x00\xff<html>not robots</html>", "newsworker").allows("/x")


def test_rules_round_trip_through_json():
    rules = parse_robots(ROBOTS, "newsworker")
    assert RobotsRules.from_json(rules.to_json()) == rules


def test_origin_of():
    assert origin_of("https://Example.COM/a?b") == "https://example.com"
    assert origin_of("http://example.com:80/") == "http://example.com"
    assert origin_of("http://example.com:8080/") == "http://example.com:8080"
    assert origin_of("http://[::1]:81/") == "http://[::1]:81"


@pytest.fixture
def politeness(redis_client, keys):
    """Politeness as a worker builds it: its HTTP client takes tokens from the host budget."""

    def make(**overrides):
        settings = hostile_settings(**overrides)
        http = HttpClient(settings, budget=HostBudget(redis_client, keys, settings))
        return Politeness(redis_client, keys, settings, http)

    return make


@pytest.fixture
def budget(politeness):
    return lambda **overrides: politeness(**overrides).budget


@pytest.mark.integration
def test_token_bucket_rate_and_burst(budget):
    b = budget(host_rate=1.0, host_burst=2)
    url = "http://a.example/x"
    assert [b.take(url, 1000.0) for _ in range(3)] == [0.0, 0.0, 1.0]
    assert b.take(url, 1000.6) == pytest.approx(1.4)  # a token at 1001.0 is the 1st waiter's
    assert b.take(url, 1001.0) == 0.0  # whoever asks first when a token is there gets it
    assert b.take(url, 1001.0) == pytest.approx(2.0)  # behind the two waiters told 1002, 1003
    assert b.take("http://b.example/x", 1001.0) == 0.0  # another host, another bucket
    assert b.take(url, 990.0) > 0  # a lagging clock does not refill the bucket


@pytest.mark.integration
def test_waiters_are_spread_at_the_hosts_rate_and_nothing_is_booked(budget):
    b = budget(host_rate=2.0, host_burst=1)
    url = "http://a.example/x"
    assert [b.take(url, 1000.0) for _ in range(4)] == [0.0, 0.5, 1.0, 1.5]
    # Nothing was booked: at 1000.5 one token is there for whoever asks first, and no
    # waiter holds a licence to send beside it.
    assert b.take(url, 1000.5) == 0.0
    assert b.take(url, 1000.5) > 0
    far = budget(host_rate=0.001, host_burst=1)
    assert far.take("http://slow.example/", 1000.0) == 0.0
    assert far.take("http://slow.example/", 1000.0) == pytest.approx(600.0)  # MAX_WAIT


@pytest.mark.integration
def test_per_host_rate_overrides(budget):
    b = budget(host_rate=10.0, host_burst=1, host_rates=(("slow.example", 0.1),))
    for url in ("http://slow.example/", "http://www.slow.example/"):
        assert b.take(url, 1000.0) == 0.0
        assert b.take(url, 1000.0) == pytest.approx(10.0)
    assert b.take("http://fast.example/", 1000.0) == 0.0
    assert b.take("http://fast.example/", 1000.0) == pytest.approx(0.1)


@pytest.mark.integration
def test_take_is_one_redis_round_trip(budget, count_commands):
    b = budget()
    b.take("http://a.example/", 1000.0)  # loads the script
    calls = count_commands()
    b.take("http://a.example/", 1000.0)
    b.take("http://a.example/")  # on Redis's clock
    assert calls == ["EVALSHA", "EVALSHA"]


@pytest.mark.integration
def test_pause_holds_the_host_and_keeps_the_longer_pause(politeness, redis_client, keys):
    p = politeness()
    url = "http://busy.example/page"
    p.pause(url, 30, 1000.0)
    p.pause(url, 5, 1000.0)  # a shorter pause does not shorten the first
    assert p.budget.take(url, 1010.0) == pytest.approx(20.0)
    assert p.budget.take("http://other.example/", 1010.0) == 0.0
    assert 0 < redis_client.ttl(keys.host_pause("busy.example")) <= 31
    assert p.budget.take(url, 1030.5) == 0.0


@pytest.mark.integration
def test_the_client_takes_a_token_for_every_request_and_redirect_hop(politeness, http_server):
    http_server.route("/r1", Reply(301, {"Location": "/r2"}))
    http_server.route("/r2", Reply(302, {"Location": "/page"}))
    http_server.route("/page", Reply(200, {"Content-Type": "text/html"}, b"<p>x</p>"))
    p = politeness(host_rate=0.01, host_burst=3)
    assert p.http.get(http_server.url("/r1")).status == 200  # three hops, three tokens
    with pytest.raises(HostBusy) as busy:
        p.http.get(http_server.url("/page"))
    assert (busy.value.retry_after or 0) > 60
    assert [r.path for r in http_server.requests] == ["/r1", "/r2", "/page"]  # none sent busy
    p2 = politeness(host_rate=0.01, host_burst=2)
    p2.redis.delete(p2.keys.rate("127.0.0.1"))
    with pytest.raises(HostBusy):  # the budget runs out in the middle of the redirects
        p2.http.get(http_server.url("/r1"))
    assert [r.path for r in http_server.requests][3:] == ["/r1", "/r2"]
    p3 = politeness(host_rate=5.0, host_burst=1)
    p3.redis.delete(p3.keys.rate("127.0.0.1"))
    assert p3.http.get(http_server.url("/r1")).status == 200  # hops wait for their tokens
    hops = [r.at for r in http_server.requests][5:]
    assert len(hops) == 3 and all(b - a >= 0.18 for a, b in zip(hops, hops[1:], strict=False))


@pytest.mark.integration
def test_robots_fetched_once_and_cached_in_redis(politeness, http_server, redis_client, keys):
    http_server.route("/robots.txt", Reply(200, {"Content-Type": "text/plain"}, ROBOTS))
    p, other_worker = politeness(), politeness()
    assert not p.allowed(http_server.url("/mine/x"), 0.0)  # our group, not the * group
    assert p.allowed(http_server.url("/private/x"), 0.0)
    assert other_worker.allowed(http_server.url("/mine/ok"), 0.0)
    assert not other_worker.allowed(http_server.url("/mine/x?page=2"), 0.0)
    assert len(http_server.hits("/robots.txt")) == 1
    ttl = redis_client.ttl(keys.robots(origin_of(http_server.url())))
    assert 86_000 < ttl <= 86_400


@pytest.mark.integration
@pytest.mark.parametrize(
    ("status", "allowed"),
    [(401, False), (403, False), (404, True), (410, True), (500, True), (503, True)],
)
def test_robots_status_rules_rfc9309(politeness, http_server, status, allowed):
    http_server.route("/robots.txt", Reply(status, {"Content-Type": "text/plain"}, b"Disallow: /"))
    assert politeness().allowed(http_server.url("/page"), 0.0) is allowed


@pytest.mark.integration
def test_unreachable_robots_allows_and_is_retried_sooner(politeness, redis_client, keys):
    url = f"http://127.0.0.1:{closed_port()}/page"
    assert politeness().allowed(url, 0.0)
    assert 0 < redis_client.ttl(keys.robots(origin_of(url))) <= 600


@pytest.mark.integration
def test_crawl_delay_lowers_the_host_rate(politeness, http_server):
    robots = "User-agent: newsworker\nCrawl-delay: 2\nDisallow: /x\n"
    http_server.route("/robots.txt", Reply(200, {"Content-Type": "text/plain"}, robots))
    p = politeness(host_rate=5.0, host_burst=3)
    url = http_server.url("/page")
    assert p.allowed(url, 0.0)  # robots.txt took a token at rate 5 (before the delay was known)
    assert p.budget.take(url) == 0.0  # on Redis's clock, as the robots.txt request was
    assert p.budget.take(url) == pytest.approx(2.0, abs=0.1)


@pytest.mark.integration
@pytest.mark.slow
def test_two_processes_share_the_host_rate(http_server, keys):
    for i in range(30):
        http_server.route(f"/p{i}", Reply(200, {"Content-Type": "text/html"}, b"<p>x</p>"))
    exitcodes = crawl_in_processes(http_server, keys.prefix, [f"/p{i}" for i in range(30)], 2)
    assert exitcodes == [0, 0]
    times = sorted(r.at for r in http_server.requests)
    assert len(times) == 30 and {r.headers["x-worker"] for r in http_server.requests} == {"0", "1"}
    for i in range(len(times)):
        for j in range(i + 1, len(times)):
            # at most burst + rate * elapsed requests in any window; 100 ms for the time
            # between taking a token and the request reaching the server (a new connection)
            assert j - i + 1 <= 2 + 5.0 * (times[j] - times[i] + 0.1), (i, j)
    assert times[-1] - times[0] >= (30 - 2) / 5.0 - 0.1


@pytest.mark.integration
def test_concurrent_workers_fetch_robots_once_and_never_wait(politeness, http_server):
    def slow_robots(req):
        time.sleep(0.5)
        return Reply(200, {"Content-Type": "text/plain"}, "User-agent: *\nDisallow: /x\n")

    http_server.route("/robots.txt", slow_robots)
    workers = [politeness() for _ in range(4)]

    def ask(p: Politeness) -> tuple[str, float]:
        started = time.monotonic()
        try:
            answer = str(p.allowed(http_server.url("/x/1"), 0.0))
        except HostBusy as busy:  # another worker is fetching it: come back, do not wait
            answer = f"busy {busy.retry_after}"
        return answer, time.monotonic() - started

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(ask, workers))
    assert sorted(a for a, _ in answers) == ["False", "busy 1.0", "busy 1.0", "busy 1.0"]
    assert all(took < 0.3 for a, took in answers if a.startswith("busy"))
    assert [p.allowed(http_server.url("/x/1"), 0.0) for p in workers] == [False] * 4
    assert len(http_server.hits("/robots.txt")) == 1


@pytest.mark.integration
def test_robots_txt_takes_a_token_and_a_busy_host_caches_nothing(politeness, http_server):
    http_server.route("/robots.txt", Reply(200, {"Content-Type": "text/plain"}, "Disallow: /x"))
    p = politeness(host_rate=0.01, host_burst=1)
    p.budget.take(http_server.url("/"))  # the one token is spent
    with pytest.raises(HostBusy):
        p.allowed(http_server.url("/x/1"), 0.0)
    assert http_server.hits("/robots.txt") == []
    assert p.redis.exists(p.keys.robots(origin_of(http_server.url()))) == 0  # not "allow all"
    assert p.redis.exists(p.keys.robots_lock(origin_of(http_server.url()))) == 0
