"""`newsworker bench pipeline`: the whole service against a local news web, beside the two
figures it is judged by, in one run.

The web: ``--hosts`` loopback addresses (127.0.0.2, 127.0.0.3, ...), each an HTTP server with
an RSS feed listing its share of ``--pages`` story pages (the dev pages of the extraction
benchmark under varied URLs), every response held back ``--latency`` seconds. Every page is
an article of its own (``make_pages``), whatever ``--pages``. Contenders:

- the service: a private redis-server, the worker and beat command lines of `newsworker run`
  (worker.service), SQLite, until every page is stored;
- a thread-pool script a user could write in an afternoon: feedparser + requests +
  trafilatura on 16 threads, no politeness, no dedupe, no store;
- the cleaner alone on every core with the pages in memory (the bound).

The host rate is opened (``--host-rate``) the same way for every contender. Prints articles/s
for each, whole-run (first request to last article) and steady (between the 10 % and 90 %
marks of completion, ``steady_rate``), the ratios, the workers' peak RSS and Redis memory per
1,000 stored articles.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import multiprocessing
import multiprocessing.pool
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.utils import formatdate
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import redis

from config.settings import Settings
from worker.bench.life import LifeRun, entry_life
from worker.bench.life import describe as describe_life
from worker.cli.common import CliError

ROOT = Path(__file__).resolve().parents[2]
# ../shared/extraction-dev beside the checkout (as the Makefile's DATA), or beside its parent
# (a git worktree one level deeper)
DEV_PAGES = (
    next(
        (p for p in (ROOT.parent / "shared", ROOT.parent.parent / "shared") if p.is_dir()),
        ROOT.parent / "shared",
    )
    / "extraction-dev"
)


# --- the local news web ------------------------------------------------------------------

PAGES = 480  # the default --pages: at 0.5 s latency, long enough for a steady state


@dataclass(frozen=True)
class Page:
    host: int  # index of the host serving it
    path: str
    title: str
    html: str


@dataclass
class Web:
    """The servers of the local news web, their pages, and every request they answered."""

    pages: list[Page]
    latency: float
    servers: list[ThreadingHTTPServer] = field(default_factory=list)
    hits: list[tuple[float, int, str]] = field(default_factory=list)  # (time, host, path)

    def url(self, host: int, path: str) -> str:
        address, port = self.servers[host].server_address[:2]
        ip = address.decode() if isinstance(address, bytes) else address
        return f"http://{ip}:{port}{path}"

    def feed_urls(self) -> list[str]:
        return [self.url(h, "/feed.xml") for h in range(len(self.servers))]

    def page_urls(self) -> list[str]:
        return [self.url(p.host, p.path) for p in self.pages]

    def first_hit(self) -> float | None:
        return min((t for t, _, _ in self.hits), default=None)


def load_dev_pages(folder: Path) -> list[str]:
    """The HTML of the extraction benchmark's dev pages (html/*.html.gz)."""
    files = sorted((folder / "html").glob("*.html.gz"))
    if not files:
        raise CliError(f"{folder}: no html/*.html.gz pages (set --pages-dir)")
    out = []
    for path in files:
        with gzip.open(path, "rt", encoding="utf-8", errors="replace") as f:
            out.append(f.read())
    return out


# The declarations the cleaner takes a canonical URL from (tasks.clean.meta.canonical_source):
# rel=canonical, og:url and JSON-LD mainEntityOfPage. A copy that could share its canonical
# with another copy has them renamed (``x-`` in front: same markup, two bytes longer each).
CANONICAL_DECLARATIONS = re.compile(
    r"""(\brel\s*=\s*["']?(?:[^"'<>]*\s)?)canonical(?=[\s"'>/])"""  # a rel token
    r"""|(\b(?:property|name)\s*=\s*["']?)og:url(?=[\s"'>/])"""  # the meta's name
    r"""|(")mainEntityOfPage(?="\s*:)""",  # the JSON-LD key
    re.IGNORECASE,
)


def own_identity(html: str) -> str:
    """The page with its canonical declarations renamed, so its article id is the URL it is
    served under."""

    def rename(m: re.Match) -> str:
        lead = next(g for g in m.groups() if g is not None)
        return f"{lead}x-{m.group(0)[len(lead) :]}"

    return CANONICAL_DECLARATIONS.sub(rename, html)


def make_pages(html: list[str], hosts: int, count: int) -> list[Page]:
    """``count`` pages spread over ``hosts``, the dev pages repeated under varied URLs, each
    an article of its own.

    Copy ``c`` of dev page ``d`` (page ``i = c * len(html) + d``) goes to host ``(d + c) %
    hosts``, under a folder of its own (``/yyyy/mm/story-i-n/``). A page's canonical can be a
    link relative to its folder (resolved: a folder of its own) or a path on its host (a host
    of its own for the first ``hosts`` copies); later copies, which share a host with an
    earlier one, have their canonical declarations renamed (``own_identity``). The page is
    otherwise the dev page as it is: the cleaner does all its work on every copy.
    """
    pages = []
    for i in range(count):
        copy, dev = divmod(i, len(html))
        pages.append(
            Page(
                host=(dev + copy) % hosts,
                path=f"/{2026 - i % 3}/{i % 12 + 1:02d}/story-{i}-{(i * 7919) % 10007}/",
                title=f"Story {i}",
                html=html[dev] if copy < hosts else own_identity(html[dev]),
            )
        )
    return pages


def rss(web: Web, host: int) -> bytes:
    items = "".join(
        f"<item><title>{escape(p.title)}</title><link>{escape(web.url(host, p.path))}</link>"
        f"<guid>{escape(web.url(host, p.path))}</guid>"
        f"<pubDate>{formatdate(1_790_000_000 + i * 60, usegmt=True)}</pubDate></item>"
        for i, p in enumerate(web.pages)
        if p.host == host
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Bench host {host}</title><link>{web.url(host, '/')}</link>{items}"
        "</channel></rss>"
    ).encode()


def handler(web: Web, host: int) -> type[BaseHTTPRequestHandler]:
    by_path = {p.path: p for p in web.pages if p.host == host}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - the http.server hook
            web.hits.append((time.time(), host, self.path))
            time.sleep(web.latency)
            if self.path == "/feed.xml":
                self.reply(200, "application/rss+xml", rss(web, host))
            elif self.path == "/robots.txt":
                self.reply(200, "text/plain", b"User-agent: *\nAllow: /\n")
            elif page := by_path.get(self.path):
                self.reply(200, "text/html; charset=utf-8", page.html.encode("utf-8"))
            else:
                self.reply(404, "text/plain", b"not found")

        def reply(self, status: int, ctype: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    return Handler


@contextlib.contextmanager
def serve(web: Web, hosts: int) -> Iterator[Web]:
    """One threaded HTTP server per loopback address 127.0.0.2 .. 127.0.0.(hosts + 1)."""
    for h in range(hosts):
        try:
            server = ThreadingHTTPServer((f"127.0.0.{h + 2}", 0), handler(web, h))
        except OSError as exc:
            raise CliError(f"cannot listen on 127.0.0.{h + 2}: {exc.strerror}") from None
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        web.servers.append(server)
    try:
        yield web
    finally:
        for server in web.servers:
            server.shutdown()
            server.server_close()


# --- contender 3: the cleaner alone (the bound) -----------------------------------------


def _clean_one(job: tuple[str, str]) -> tuple[float, str | None]:
    """Clean one page; the CPU seconds it took and the article's id (None: no content)."""
    from tasks.clean import clean_html
    from tasks.errors import NoContentError

    start = time.process_time()
    try:
        article_id = clean_html(job[0], job[1], fetched_at="2026-12-01T00:00:00+00:00").id
    except NoContentError:
        article_id = None
    return time.process_time() - start, article_id


def cleaner_pool(processes: int) -> multiprocessing.pool.Pool:
    """The bound's pool, made before the web serves: its processes come from a fork server
    (a fresh interpreter with the cleaner imported), never from a fork of this process, whose
    server threads and C libraries a fork would copy mid-flight (a run aborted at start in
    glibc, "free(): invalid pointer", presumably from that fork)."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["tasks.clean"])
    return ctx.Pool(processes)


@dataclass
class BoundRun:
    rate: float  # articles/s
    cpu: float  # CPU s per article
    ids: set[str]  # the distinct article ids of the web's pages
    empty: int  # pages the cleaner found no article in


def cleaner_bound(web: Web, pool: multiprocessing.pool.Pool, processes: int) -> BoundRun:
    """Articles/s and CPU s per article of the cleaner alone on ``processes`` cores, and the
    article ids the web's pages make (each page cleaned at the URL it is served under)."""
    jobs = [(p.html, web.url(p.host, p.path)) for p in web.pages]
    pool.map(_clean_one, jobs[: processes * 2])  # warm: first calls, caches
    start = time.perf_counter()
    results = pool.map(_clean_one, jobs, chunksize=4)
    rate = len(jobs) / (time.perf_counter() - start)
    ids = [article_id for _, article_id in results]
    cpu = sum(cpu for cpu, _ in results) / len(jobs)
    return BoundRun(rate, cpu, {i for i in ids if i}, ids.count(None))


# --- the steady rate -----------------------------------------------------------------------

STEADY_MARKS = (0.10, 0.90)  # the steady rate: between these marks of completion


def steady_rate(done_at: list[float]) -> float:
    """Articles/s between the 10 % and 90 % marks of completion: the articles completed
    between the two marks over the time between them (0 when it cannot be told). ``done_at``:
    each article's completion time, any order. The same for every contender: it leaves out
    the serial start (feed poll, robots.txt, first pages) and the tail of the last pages."""
    times = sorted(done_at)
    lo, hi = (max(1, round(mark * len(times))) for mark in STEADY_MARKS)
    if hi <= lo or times[hi - 1] <= times[lo - 1]:
        return 0.0
    return (hi - lo) / (times[hi - 1] - times[lo - 1])


def completion_times(samples: list[tuple[float, int]]) -> list[float]:
    """Each article's completion time from polled (time, count) samples: the articles counted
    between two samples are spread evenly over the interval."""
    out: list[float] = []
    prev_t, prev_n = samples[0] if samples else (0.0, 0)
    for t, n in samples[1:]:
        for k in range(prev_n, n):
            out.append(prev_t + (t - prev_t) * (k + 1 - prev_n) / (n - prev_n))
        if n > prev_n:
            prev_t, prev_n = t, n
        else:
            prev_t = t
    return out


# --- contender 2: the thread-pool script --------------------------------------------------


@dataclass
class ScriptRun:
    rate: float  # articles/s from the first request to the last page
    steady: float  # articles/s between the 10 % and 90 % marks of completion


def thread_script(web: Web, threads: int) -> ScriptRun:
    """Articles/s of feedparser + requests + trafilatura on ``threads`` threads."""
    try:
        import feedparser
        import requests
        import trafilatura
    except ImportError as exc:
        raise CliError(
            f"the script needs the bench extra (pip install -e '.[bench]'): {exc}"
        ) from None
    session = requests.Session()
    session.trust_env = False

    done_at: list[float] = []  # each page's completion (list.append: atomic)

    def page(url: str) -> int:
        response = session.get(url, timeout=30)
        found = 1 if trafilatura.extract(response.text, url=url) else 0
        done_at.append(time.perf_counter())
        return found

    def feed(url: str) -> list[str]:
        return [e.link for e in feedparser.parse(session.get(url, timeout=30).content).entries]

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        links = [link for links in pool.map(feed, web.feed_urls()) for link in links]
        done = sum(pool.map(page, links))
    elapsed = time.perf_counter() - start
    session.close()
    if done < len(web.pages) * 0.9:
        print(f"  (script: trafilatura found an article in {done} of {len(links)} pages)")
    return ScriptRun(len(links) / elapsed, steady_rate(done_at))


# --- contender 1: the service -------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def private_redis(folder: Path) -> Iterator[str]:
    from worker.service import ServiceError, redis_binary, wait_for_redis

    try:
        binary = shutil.which("redis-server") or redis_binary()
    except ServiceError as exc:
        raise CliError(str(exc)) from None
    port = free_port()
    cmd = [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly"]
    proc = subprocess.Popen(
        [*cmd, "no", "--dir", str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        wait_for_redis(url, 10.0)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def rss_kb(pid: int) -> int:
    """Resident set of one process, kB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def family(pid: int) -> list[int]:
    """A process and its descendants (Celery's pool processes)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
    return out


@dataclass
class ServiceRun:
    rate: float = 0.0  # pages / (last article - first request)
    steady: float = 0.0  # articles/s between the 10 % and 90 % marks of completion
    wall: float = 0.0
    stored: int = 0
    peak_rss_mb: float = 0.0
    processes: int = 0
    cpu: float = 0.0  # CPU seconds of the workers from the first request to the last store
    redis_per_1000_mb: float = 0.0  # the service's keys (MEMORY USAGE), per 1,000 stored
    redis_used_mb: float = 0.0  # the server's used_memory growth over the run
    outcomes: dict[str, int] = field(default_factory=dict)  # the entries' final outcomes

    @property
    def pages(self) -> int:
        """Pages done: stored, or ended otherwise (an id another page took, failed)."""
        return max(self.stored, sum(self.outcomes.values()), 1)


# An entry's last outcome (tasks.models.Outcome; tasks.metrics counts them per feed): every
# page of the web ends as exactly one of these. Not "seen" nor "leased": those are a second
# delivery of an entry that ends (or ended) as one of these.
SETTLED = (
    *("stored", "revised", "unchanged", "duplicate", "dropped_duplicate"),
    *("disallowed", "failed"),
)


def outcomes(client: redis.Redis, prefix: str) -> dict[str, int]:
    """The final outcomes of the entries so far, summed over the feeds."""
    from tasks import metrics
    from tasks.formats import as_text
    from tasks.rediskeys import Keys

    keys = Keys(prefix)
    feed_ids = [as_text(k) for k in client.hkeys(keys.feeds)]
    total = dict.fromkeys(SETTLED, 0)
    for stats in metrics.feed_stats(client, keys, feed_ids).values():
        for name in SETTLED:
            total[name] += stats.get(name, 0)
    return total


def service_env(args, web: Web, folder: Path, redis_url: str) -> dict[str, str]:
    feeds = folder / "feeds.toml"
    feeds.write_text(
        "".join(
            f'[[feeds]]\nname = "Bench {i}"\nurl = "{u}"\n\n' for i, u in enumerate(web.feed_urls())
        )
    )
    return {
        **os.environ,
        "NEWS_REDIS_URL": redis_url,
        "NEWS_STORE_URL": f"sqlite:///{folder}/articles.db",
        "NEWS_FEEDS_FILE": str(feeds),
        "NEWS_DATA_DIR": str(folder / "data"),
        "NEWS_FETCH_ALLOW_PRIVATE": "1",
        "NEWS_HOST_RATE": str(args.host_rate),
        "NEWS_HOST_BURST": str(args.host_burst),
        "NEWS_BEAT_TICK": "0.5",
        "NEWS_FLOWER_PORT": "0",
        "NEWS_METRICS_PORT": str(free_port()),  # a leftover service must not fail the run
        "NEWS_LOG_LEVEL": "warning",
        "NEWS_WORKER_POOL": args.pool,
        "NEWS_WORKER_CONCURRENCY": str(args.processes),
        "NEWS_WORKER_THREADS": str(args.threads),
    }


def run_service(args, web: Web, folder: Path) -> ServiceRun:
    """The worker and beat of `newsworker run` on the web until every page is stored."""
    from config.settings import load_settings
    from tasks.store import open_store
    from worker.service import Service

    with private_redis(folder) as redis_url:
        env = service_env(args, web, folder, redis_url)
        settings = load_settings(env)
        client = redis.Redis.from_url(redis_url)
        base_memory = int(client.info("memory")["used_memory"])
        open_store(settings.store_url).close()
        (folder / "data").mkdir()
        procs = []
        log = open(folder / "service.log", "wb")  # noqa: SIM115 - closed below
        start = time.time()
        try:
            for name, cmd in Service(settings).commands():
                procs.append((name, subprocess.Popen(cmd, env=env, stdout=log, stderr=log)))
            return watch(args, web, settings, procs, client, base_memory, start)
        finally:
            for _, proc in procs:
                proc.send_signal(signal.SIGTERM)
            for _, proc in procs:
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
            log.close()
            client.close()


def watch(args, web, settings, procs, client, base_memory: int, start: float) -> ServiceRun:
    """Until every page is stored, or every page's entry has its final outcome (a page whose
    article id another page already took ends "unchanged": stored, but no row of its own)."""
    from tasks.store import open_store

    want, result = len(web.pages), ServiceRun()
    workers = [p.pid for name, p in procs if name.startswith("worker")]
    store = open_store(settings.store_url)
    samples: list[tuple[float, int]] = [(start, 0)]  # (time, pages done) every poll
    try:
        deadline = time.monotonic() + args.timeout
        cpu_at_start = None  # the workers' CPU when the first request arrives (imports done)
        while time.monotonic() < deadline:
            pids = [p for w in workers for p in family(w)]
            if cpu_at_start is None and web.first_hit() is not None:
                cpu_at_start = sum(map(cpu_seconds, pids))
            result.processes = max(result.processes, len(pids))
            result.peak_rss_mb = max(result.peak_rss_mb, sum(map(rss_kb, pids)) / 1024)
            result.stored = store.count()
            result.outcomes = outcomes(client, settings.redis_prefix)
            settled = sum(result.outcomes.values())
            samples.append((time.time(), max(result.stored, settled)))
            if result.stored >= want or settled >= want:
                result.cpu = sum(map(cpu_seconds, pids)) - (cpu_at_start or 0.0)
                break
            for name, proc in procs:
                if proc.poll() is not None:
                    raise CliError(f"{name} exited with code {proc.returncode}")
            time.sleep(0.1)
        else:
            raise CliError(
                f"timed out: {result.stored} of {want} pages stored; entries ended: "
                f"{format_outcomes(result.outcomes)}"
            )
    finally:
        store.close()
    done = samples[-1][0]
    first = web.first_hit() or start
    result.wall = done - start
    result.rate = want / (done - first)
    result.steady = steady_rate(completion_times(samples))
    result.redis_used_mb = (int(client.info("memory")["used_memory"]) - base_memory) / 1e6
    keys = sum(client.memory_usage(k) or 0 for k in client.scan_iter(match="news:*", count=1000))
    result.redis_per_1000_mb = keys / result.stored * 1000 / 1e6
    return result


def format_outcomes(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {name}" for name, n in counts.items() if n) or "none"


# --- the command --------------------------------------------------------------------------


def load_avg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def run(args) -> int:
    html = load_dev_pages(Path(args.pages_dir))
    web = Web(make_pages(html, args.hosts, args.pages), args.latency)
    cores = os.cpu_count() or 2
    print(
        f"bench pipeline: {args.hosts} hosts, {args.pages} pages ({len(html)} dev pages), "
        f"latency {args.latency:g} s, host rate {args.host_rate:g}/s burst {args.host_burst}; "
        f"{cores} cores, load {load_avg()}"
    )
    contenders = {c.strip() for c in args.contenders.split(",")}
    bound: BoundRun | None = None
    clean_cpu = 0.0  # the least CPU per article of the bound's rounds
    script, script_steady, service, service_steady = 0.0, 0.0, None, 0.0
    best_life: LifeRun | None = None
    with contextlib.ExitStack() as stack:
        # the bound's processes are started before the web's server threads (cleaner_pool)
        pool = stack.enter_context(cleaner_pool(cores)) if "cleaner" in contenders else None
        stack.enter_context(serve(web, args.hosts))
        for _ in range(max(1, args.repeat)):  # interleaved rounds; the best of each is kept
            if pool is not None:
                one_bound = cleaner_bound(web, pool, cores)
                clean_cpu = min(clean_cpu or one_bound.cpu, one_bound.cpu)
                if bound is None or one_bound.rate > bound.rate:
                    bound = one_bound
            if "script" in contenders:
                one_script = thread_script(web, args.script_threads)
                script = max(script, one_script.rate)
                script_steady = max(script_steady, one_script.steady)
            if "life" in contenders:
                life_run = run_life(args, web)
                if best_life is None or life_run.cpu / max(life_run.articles, 1) < (
                    best_life.cpu / max(best_life.articles, 1)
                ):
                    best_life = life_run
            if "service" in contenders:
                web.hits.clear()
                with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
                    one = run_service(args, web, Path(tmp))
                service = one if service is None or one.rate > service.rate else service
                service_steady = max(service_steady, one.steady)
    if service:
        service.steady = service_steady
    print_table(args, cores, service, (script, script_steady), bound.rate if bound else 0.0)
    if bound:
        shared = len(web.pages) - len(bound.ids) - bound.empty
        print(
            f"web: {len(web.pages)} pages, {len(bound.ids)} distinct article ids as the cleaner "
            f"alone sees them at the served URLs ({bound.empty} without an article)"
            + (f"; {shared} pages share an id with another page" if shared else "")
        )
    if service and clean_cpu:
        per = service.cpu / service.pages
        print(
            f"CPU per article: cleaner alone {1000 * clean_cpu:.0f} ms, service {1000 * per:.0f} "
            f"ms: the service can reach {100 * clean_cpu / per:.0f} % of the bound when CPU-bound"
        )
    if best_life is not None:
        print(describe_life(best_life, clean_cpu))
    print(f"load after: {load_avg()}")
    return 0


def run_life(args, web: Web) -> LifeRun:
    """The entry's life without Celery (worker.bench.life) on the web, with a private Redis
    and store of its own. Its figure is CPU, so the web answers at once meanwhile (one page
    after another at the bench's latency would take minutes)."""
    latency, web.latency = web.latency, 0.0
    try:
        with (
            tempfile.TemporaryDirectory(prefix="bench-life-") as tmp,
            private_redis(Path(tmp)) as redis_url,
        ):
            env = service_env(args, web, Path(tmp), redis_url)
            pages = [(web.url(p.host, p.path), web.url(p.host, "/feed.xml")) for p in web.pages]
            return entry_life(pages, env)
    finally:
        web.latency = latency


def print_table(
    args, cores: int, service: ServiceRun | None, script: tuple[float, float], bound: float
):
    """The table: whole-run and steady articles/s of each contender, with their ratios to the
    script's (whole-run to whole-run, steady to steady) and to the bound."""

    def ratios(rate: float, versus: float) -> str:
        vs_script = f"{rate / versus:9.2f}" if versus else f"{'-':>9}"
        vs_bound = f"{100 * rate / bound:8.0f} %" if bound else f"{'-':>10}"
        return f"{rate:11.1f} {vs_script} {vs_bound}" if rate else f"{'-':>11} {'-':>9} {'-':>10}"

    def row(name: str, rate: float, steady: float) -> None:
        print(f"{name:<40} {ratios(rate, script[0])} {ratios(steady, script[1])}")

    pool = (
        f"{args.pool} {args.processes}x{args.threads}"
        if args.pool == "threads"
        else (f"prefork -c {args.processes}")
    )
    print(
        f"{'contender':<40} {'articles/s':>11} {'vs script':>9} {'vs bound':>10} "
        f"{'steady/s':>11} {'vs script':>9} {'vs bound':>10}"
    )
    if service:
        row("newsworker (" + pool + ")", service.rate, service.steady)
    if script[0]:
        row(f"{args.script_threads}-thread script (trafilatura)", *script)
    if bound:
        row(f"cleaner alone, {cores} processes", bound, bound)  # no start-up: steady throughout
    lo, hi = (round(100 * mark) for mark in STEADY_MARKS)
    print(
        f"(articles/s: from the first request to the last article; steady/s: between the {lo} % "
        f"and {hi} % marks of completion; the cleaner alone is timed after a warm-up)"
    )
    if service:
        print(
            f"service: {service.stored} stored, {service.wall:.1f} s from start (rate from the "
            f"first request); worker peak RSS {service.peak_rss_mb:.0f} MB over "
            f"{service.processes} processes; worker CPU {service.cpu:.1f} s "
            f"({1000 * service.cpu / service.pages:.0f} ms/article)"
        )
        if service.stored < args.pages:
            print(
                f"service: NOT every page stored as an article of its own: {service.stored} of "
                f"{args.pages}; the entries ended as {format_outcomes(service.outcomes)}"
            )
        print(
            f"Redis: {service.redis_per_1000_mb:.2f} MB of keys per 1,000 stored articles "
            f"(used_memory grew {service.redis_used_mb:.1f} MB, mostly connection buffers)"
        )


def add_pipeline_parser(bench_subparsers) -> argparse.ArgumentParser:
    p = bench_subparsers.add_parser(
        "pipeline", help="the service on a local news web beside a thread script and the bound"
    )
    p.add_argument("--latency", type=float, default=0.5, help="seconds per response")
    p.add_argument("--hosts", type=int, default=12, help="loopback hosts (127.0.0.2 ...)")
    p.add_argument("--pages", type=int, default=PAGES, help="story pages over all hosts")
    p.add_argument("--pages-dir", default=str(DEV_PAGES), help="folder with html/*.html.gz")
    p.add_argument("--host-rate", type=float, default=50.0, help="NEWS_HOST_RATE for the run")
    p.add_argument("--host-burst", type=int, default=10, help="NEWS_HOST_BURST for the run")
    p.add_argument("--pool", choices=("threads", "prefork"), default="threads")
    p.add_argument("--processes", type=int, default=2, help="NEWS_WORKER_CONCURRENCY")
    p.add_argument(
        "--threads", type=int, default=Settings().worker_threads, help="NEWS_WORKER_THREADS"
    )
    p.add_argument("--script-threads", type=int, default=16)
    p.add_argument(
        "--contenders",
        default="service,script,cleaner,life",
        help="any of service, script, cleaner (the bound), life (the entry's life without "
        "Celery, CPU by part)",
    )
    p.add_argument("--timeout", type=float, default=600.0, help="seconds for the service")
    p.add_argument(
        "--repeat", type=int, default=1, help="rounds (best of each contender: a shared CPU)"
    )
    p.set_defaults(func=run)
    return p


if __name__ == "__main__":  # pragma: no cover - `newsworker bench pipeline` is the entry
    sys.exit("use: newsworker bench pipeline")
