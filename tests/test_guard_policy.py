"""SSRF policy gaps of issue 11 item 9: 192.0.0.0/24 is not public, an IPv6 zone id is refused
as permanent (never looked up, never retried), and the guard opens per host:port."""

from __future__ import annotations

import socket

import pytest

from tasks.errors import BlockedAddress, PermanentError
from tasks.fetch.http import HttpClient
from tasks.fetch.netguard import AddressPolicy
from tests.hostile import hostile_settings
from tests.httpserver import Reply


@pytest.mark.parametrize(
    "address", ["192.0.0.1", "192.0.0.9", "192.0.0.10", "192.0.0.192", "::ffff:192.0.0.9"]
)
def test_ietf_protocol_assignments_are_not_public(address):
    assert not AddressPolicy().allows(address)
    assert AddressPolicy(allow_networks=["192.0.0.0/24"]).allows(address)
    assert AddressPolicy().allows("192.0.1.1")  # the next /24 (TEST-NET-1 aside) is untouched


def counting_resolver(table: dict[str, str]):
    calls: list[str] = []

    def resolve(host: str, port: int):
        calls.append(host)
        address = table[host]
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sockaddr = (address, port, 0, 0) if family == socket.AF_INET6 else (address, port)
        return [(family, socket.SOCK_STREAM, 6, "", sockaddr)]

    resolve.calls = calls
    return resolve


@pytest.mark.parametrize(
    "url", ["http://[fe80::1%25eth0]/", "http://[fe80::1%25lo]:8080/x", "http://[fe80::1%eth0]/"]
)
def test_a_zone_id_is_refused_as_permanent_without_a_lookup(url):
    resolve = counting_resolver({})
    client = HttpClient(hostile_settings(fetch_allow_private=True), resolver=resolve)
    with pytest.raises(BlockedAddress, match="zone id") as err:
        client.get(url)
    assert isinstance(err.value, PermanentError)
    assert resolve.calls == []


@pytest.mark.integration
def test_allow_hosts_opens_one_service_not_the_host(http_server):
    http_server.route("/", Reply(200, {"Content-Type": "text/html"}, b"intranet"))
    port = http_server.port
    table = {"wiki.corp": "127.0.0.1", "meta.corp": "169.254.169.254", "127.0.0.1": "127.0.0.1"}
    resolve = counting_resolver(table)
    settings = hostile_settings(
        fetch_allow_networks=(), fetch_allow_hosts=(f"wiki.corp:{port}", "meta.corp:80")
    )
    client = HttpClient(settings, resolver=resolve)
    assert client.get(f"http://wiki.corp:{port}/").body == b"intranet"
    with pytest.raises(BlockedAddress):  # the same host on another port stays closed
        client.get(f"http://wiki.corp:{port + 1}/")
    with pytest.raises(BlockedAddress):  # a listed name never opens a metadata address
        client.get("http://meta.corp/")
    with pytest.raises(BlockedAddress):  # nor does it open the address for other names
        client.get(http_server.url("/"))
    by_address = HttpClient(
        hostile_settings(fetch_allow_networks=(), fetch_allow_hosts=(f"127.0.0.1:{port}",))
    )
    assert by_address.get(http_server.url("/")).body == b"intranet"
    assert len(http_server.requests) == 2


def test_allow_hosts_policy_matches_name_or_address_and_port():
    policy = AddressPolicy(allow_hosts=["wiki.corp:8080", "[fd00::5]:443"])
    assert policy.allows("10.0.0.7", host="wiki.corp", port=8080)
    assert policy.allows("10.0.0.7", host="WIKI.corp", port=8080)
    assert not policy.allows("10.0.0.7", host="wiki.corp", port=8081)
    assert not policy.allows("10.0.0.7")
    assert policy.allows("fd00::5", host="other.corp", port=443)
    assert not policy.allows("fd00::5", host="other.corp", port=80)
