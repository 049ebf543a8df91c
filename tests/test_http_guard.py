"""The SSRF guard (tasks.fetch.netguard) on its own and inside HttpClient, with injected resolvers."""

from __future__ import annotations

import socket
import subprocess
import time

import pytest

from tasks.errors import BlockedAddress, TlsError
from tasks.fetch.http import HttpClient
from tasks.fetch.netguard import AddressPolicy, Deadline
from tests.hostile import hostile_settings
from tests.httpserver import LocalServer, Reply, quiet, serve_tls

BLOCKED_BY_DEFAULT = [
    "127.0.0.1",
    "127.8.9.1",
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "169.254.169.254",
    "169.254.1.1",
    "100.64.0.1",
    "100.127.255.254",
    "0.0.0.0",
    "224.0.0.1",
    "239.1.1.1",
    "240.0.0.1",
    "255.255.255.255",
    "::1",
    "::",
    "fc00::1",
    "fd12:3456::1",
    "fe80::1",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "::ffff:10.1.2.3",
    "fd00:ec2::254",
]
PUBLIC = ["93.184.216.34", "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"]


@pytest.mark.parametrize("address", BLOCKED_BY_DEFAULT)
def test_default_policy_blocks(address):
    assert not AddressPolicy().allows(address)


@pytest.mark.parametrize("address", PUBLIC)
def test_default_policy_allows_public(address):
    assert AddressPolicy().allows(address)


def test_allow_private_opens_private_but_not_metadata_nor_multicast():
    policy = AddressPolicy(allow_private=True)
    for address in (
        "127.0.0.1",
        "10.0.0.1",
        "192.168.1.1",
        "100.64.0.1",
        "::1",
        "fc00::1",
        "169.254.1.1",
    ):
        assert policy.allows(address), address
    for address in (
        "169.254.169.254",
        "::ffff:169.254.169.254",
        "fd00:ec2::254",
        "224.0.0.1",
        "0.0.0.0",
    ):
        assert not policy.allows(address), address


TUNNELLED = {
    "2002:7f00:1::": "127.0.0.1",  # 6to4
    "2002:a9fe:a9fe::1": "169.254.169.254",
    "2002:a00:1::": "10.0.0.1",
    "2001:0:4136:e378:8000:63bf:80ff:fffe": "127.0.0.1",  # Teredo: client bits inverted
    "2001:0:4136:e378:8000:63bf:5601:5601": "169.254.169.254",
}


@pytest.mark.parametrize("address", sorted(TUNNELLED))
def test_tunnel_addresses_are_judged_by_their_ipv4_address(address):
    inner = TUNNELLED[address]
    assert not AddressPolicy().allows(address)
    assert AddressPolicy(allow_private=True).allows(address) == (inner != "169.254.169.254")
    assert AddressPolicy(allow_networks=[f"{inner}/32"]).allows(address)


def test_public_tunnel_addresses_and_site_local():
    assert AddressPolicy().allows("2002:808:808::1")  # 6to4 of 8.8.8.8
    assert AddressPolicy().allows("2001:0:4136:e378:8000:63bf:f7f7:f7f7")  # Teredo, 8.8.8.8
    for address in ("fec0::1", "feff:ffff::1"):  # site-local fec0::/10 (RFC 3879)
        assert not AddressPolicy().allows(address)
        assert AddressPolicy(allow_private=True).allows(address)


def test_allow_networks_opens_only_what_is_listed():
    policy = AddressPolicy(allow_networks=["127.0.0.0/8", "10.1.0.0/16"])
    assert policy.allows("127.0.0.1") and policy.allows("::ffff:127.0.0.1")
    assert policy.allows("10.1.2.3") and not policy.allows("10.2.0.1")
    assert not policy.allows("169.254.169.254")
    assert AddressPolicy(allow_networks=["169.254.169.254/32"]).allows("169.254.169.254")


def resolver_for(table: dict[str, list[str]]):
    calls = []

    def resolve(host: str, port: int):
        calls.append(host)
        out = []
        for address in table[host]:
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            sockaddr = (address, port, 0, 0) if family == socket.AF_INET6 else (address, port)
            out.append((family, socket.SOCK_STREAM, 6, "", sockaddr))
        return out

    resolve.calls = calls
    return resolve


@pytest.mark.integration
def test_name_resolving_to_metadata_is_blocked_even_with_loopback_open(http_server):
    resolve = resolver_for({"evil.test": ["169.254.169.254"]})
    client = HttpClient(hostile_settings(), resolver=resolve)
    with pytest.raises(BlockedAddress):
        client.get("http://evil.test/latest/meta-data/")
    assert resolve.calls == ["evil.test"]


@pytest.mark.integration
def test_localhost_is_blocked_with_the_guard_on(http_server):
    http_server.route("/", Reply(200, {"Content-Type": "text/html"}, b"hi"))
    client = HttpClient(hostile_settings(fetch_allow_networks=()))
    for url in (http_server.url("/"), f"http://localhost:{http_server.port}/"):
        with pytest.raises(BlockedAddress):
            client.get(url)
    assert http_server.requests == []


@pytest.mark.integration
def test_one_bad_address_among_good_ones_blocks(http_server):
    resolve = resolver_for({"mixed.test": ["8.8.8.8", "10.0.0.5"]})
    with pytest.raises(BlockedAddress):
        HttpClient(hostile_settings(), resolver=resolve).get("http://mixed.test/")


@pytest.mark.integration
def test_guard_checks_the_address_it_connects_to_and_keeps_the_host_header(http_server):
    """DNS rebinding: the name is resolved at connect time, once, and that address is used."""
    http_server.route("/", Reply(200, {"Content-Type": "text/html"}, b"ok"))
    resolve = resolver_for({"news.test": ["127.0.0.1"]})
    client = HttpClient(hostile_settings(), resolver=resolve)
    page = client.get(f"http://news.test:{http_server.port}/")
    assert page.body == b"ok"
    assert http_server.requests[0].headers["host"] == f"news.test:{http_server.port}"
    resolve.calls.clear()
    client.session.close()  # a new connection must be checked again: now it rebinds
    client = HttpClient(hostile_settings(), resolver=resolver_for({"news.test": ["10.9.9.9"]}))
    with pytest.raises(BlockedAddress):
        client.get(f"http://news.test:{http_server.port}/")


@pytest.mark.integration
def test_redirect_to_a_name_on_a_private_address_is_blocked(http_server):
    http_server.route("/", Reply(302, {"Location": "http://intranet.test/admin"}))
    resolve = resolver_for({"intranet.test": ["192.168.0.10"], "127.0.0.1": ["127.0.0.1"]})
    with pytest.raises(BlockedAddress):
        HttpClient(hostile_settings(), resolver=resolve).get(http_server.url("/"))


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for news.test (openssl CLI)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=news.test",
            "-addext",
            "subjectAltName=DNS:news.test",
        ],
        check=True,
        capture_output=True,
    )
    return str(cert), str(key)


@pytest.fixture
def https_server(certificate):
    with quiet(serve_tls(LocalServer(), *certificate)) as server:
        server.route("/", Reply(200, {"Content-Type": "text/html"}, b"secure"))
        yield server


@pytest.mark.integration
def test_tls_is_verified_with_sni_and_hostname_through_the_guard(https_server, certificate):
    table = {"news.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]}
    url = f"https://news.test:{https_server.port}/"
    with pytest.raises(TlsError):  # self-signed: not trusted by default
        HttpClient(hostile_settings(), resolver=resolver_for(table)).get(url)
    trusted = HttpClient(hostile_settings(ca_bundle=certificate[0]), resolver=resolver_for(table))
    assert trusted.get(url).body == b"secure"
    with pytest.raises(TlsError):  # the certificate names news.test, not other.test
        trusted.get(f"https://other.test:{https_server.port}/")


@pytest.mark.integration
def test_tls_cannot_be_turned_off_by_the_caller(https_server):
    client = HttpClient(hostile_settings(), resolver=resolver_for({"news.test": ["127.0.0.1"]}))
    client.session.verify = False
    with pytest.raises(TlsError):
        client.get(f"https://news.test:{https_server.port}/")


def test_deadlines_cut_their_sockets_in_time_order_and_only_while_open():
    """One watchdog thread serves every request's deadline: a short one added after a long
    one still fires on time, and a request that ended is never cut."""
    long_a, long_b = socket.socketpair()
    short_a, short_b = socket.socketpair()
    ended_a, ended_b = socket.socketpair()
    try:
        with Deadline(30.0) as long_deadline:
            long_deadline.register(long_a)
        with Deadline(0.2) as ended:  # ends at once: its socket must stay usable
            ended.register(ended_a)
        started = time.monotonic()
        short = Deadline(0.3)
        with short:
            short.register(short_a)
            short_a.settimeout(5)
            assert short_a.recv(1) == b""  # shut down by the watchdog (else: a 5 s timeout)
        assert short.expired and 0.25 < time.monotonic() - started < 1.5
        time.sleep(0.1)
        ended_b.sendall(b"x")
        assert not ended.expired and ended_a.recv(1) == b"x"
    finally:
        for s in (long_a, long_b, short_a, short_b, ended_a, ended_b):
            s.close()
