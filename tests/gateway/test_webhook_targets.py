"""Webhooks reach only public addresses (issue 14, finding 9: "webhooks reach anything").

The table goes through the HTTP API of one gateway shared by the module (no network: every
refused URL is refused before anything is resolved or sent). Delivery-time checks, after DNS
resolution, are in tests/gateway/test_notifications.py.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from gateway.api.app import create_app
from gateway.service import GatewayService
from gateway.settings import GatewaySettings
from medledger.epcis.builders import gln
from provenance.journey import PHARMACY
from servicekit import webhook_targets
from servicekit.webhook_targets import TargetPolicy, WebhookClient

REFUSED: dict[str, tuple[str, str]] = {
    # id: (url, rule)
    "loopback": ("http://127.0.0.1:8080/hook", "webhook.url-address"),
    "loopback-other": ("http://127.254.1.9/hook", "webhook.url-address"),
    "chain-node-rpc": ("http://127.0.0.1:8545/", "webhook.url-address"),
    "localhost-name": ("http://localhost:8000/participants", "webhook.url-address"),
    "localhost-name-dot": ("http://LOCALHOST./", "webhook.url-address"),
    "localhost-subdomain": ("http://api.localhost/", "webhook.url-address"),
    "ipv4-short": ("http://127.1/", "webhook.url-address"),
    "ipv4-decimal": ("http://2130706433/", "webhook.url-address"),
    "ipv4-hex": ("http://0x7f000001/", "webhook.url-address"),
    "ipv4-octal": ("http://0177.0.0.1/", "webhook.url-address"),
    "ipv4-dotted-hex": ("http://0x7f.0.0.1/", "webhook.url-address"),
    "ipv4-public-decimal": ("http://134744072/", "webhook.url-address"),  # 8.8.8.8, spelt oddly
    "unspecified-v4": ("http://0.0.0.0:8000/", "webhook.url-address"),
    "this-network": ("http://0.1.2.3/", "webhook.url-address"),
    "private-10": ("http://10.0.0.5/hook", "webhook.url-address"),
    "private-172": ("http://172.16.0.1/", "webhook.url-address"),
    "private-192": ("http://192.168.1.1/", "webhook.url-address"),
    "shared-cgnat": ("http://100.64.0.1/", "webhook.url-address"),
    "link-local-metadata": ("http://169.254.169.254/latest/meta-data/", "webhook.url-address"),
    "multicast-v4": ("http://224.0.0.1/", "webhook.url-address"),
    "broadcast": ("http://255.255.255.255/", "webhook.url-address"),
    "reserved-v4": ("http://240.0.0.1/", "webhook.url-address"),
    "benchmarking": ("http://198.18.0.1/", "webhook.url-address"),
    "documentation-v4": ("http://192.0.2.1/", "webhook.url-address"),
    "loopback-v6": ("http://[::1]/", "webhook.url-address"),
    "loopback-v6-long": ("http://[0:0:0:0:0:0:0:1]:8545/", "webhook.url-address"),
    "unspecified-v6": ("http://[::]/", "webhook.url-address"),
    "ipv4-mapped": ("http://[::ffff:127.0.0.1]/", "webhook.url-address"),
    "ipv4-mapped-hex": ("http://[::ffff:a9fe:a9fe]/", "webhook.url-address"),
    "ipv4-compatible": ("http://[::127.0.0.1]/", "webhook.url-address"),
    "nat64-loopback": ("http://[64:ff9b::7f00:1]/", "webhook.url-address"),
    "nat64-metadata": ("http://[64:ff9b::169.254.169.254]/", "webhook.url-address"),
    "nat64-local-use": ("http://[64:ff9b:1::808:808]/", "webhook.url-address"),
    "6to4-private": ("http://[2002:c0a8:101::1]/", "webhook.url-address"),
    "unique-local": ("http://[fd00::1]/", "webhook.url-address"),
    "link-local-v6": ("http://[fe80::1]/", "webhook.url-address"),
    "link-local-v6-zone": ("http://[fe80::1%25eth0]/", "webhook.url-address"),
    "site-local-v6": ("http://[fec0::1]/", "webhook.url-address"),
    "multicast-v6": ("http://[ff02::1]/", "webhook.url-address"),
    "documentation-v6": ("http://[2001:db8::1]/", "webhook.url-address"),
    "teredo": ("http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", "webhook.url-address"),
    "numeric-last-label": ("http://1.2.3.4.5/", "webhook.url-address"),
    "credentials": ("https://user:secret@hooks.example/", "webhook.url-credentials"),
    "credentials-user": ("https://user@hooks.example/", "webhook.url-credentials"),
    "credentials-confusion": ("http://hooks.example@127.0.0.1/", "webhook.url-credentials"),
    "crlf": ("https://hooks.example/a\r\nX-Injected: 1", "webhook.url-characters"),
    "space": ("https://hooks.example/a b", "webhook.url-characters"),
    "tab-in-host": ("https://hooks.\texample/", "webhook.url-characters"),
    "nul": ("https://hooks.example/\x00", "webhook.url-characters"),
    "backslash": ("https://hooks.example\\@127.0.0.1/", "webhook.url-characters"),
    "unicode-dots": ("http://127\uff0e0\uff0e0\uff0e1/", "webhook.url-characters"),
    "ftp": ("ftp://hooks.example/", "webhook.url-scheme"),
    "file": ("file:///etc/passwd", "webhook.url-scheme"),
    "gopher": ("gopher://127.0.0.1:6379/_INFO", "webhook.url-scheme"),
    "no-scheme": ("hooks.example/hook", "webhook.url-scheme"),
    "no-host": ("http:///hook", "webhook.url"),
    "bad-port": ("http://hooks.example:99999/", "webhook.url"),
    # Longer than 2048 characters: the request schema refuses it first (422 without a rule).
}


Shared = tuple[TestClient, dict[str, str], dict[str, str]]


@pytest.fixture(scope="module")
def pharmacy(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[TestClient, dict[str, str], dict[str, str]]]:
    """One gateway (SQLite), a pharmacy's API key and the regulator's, shared by the module."""
    data = tmp_path_factory.mktemp("webhook-targets")
    service = GatewayService(GatewaySettings(data_dir=Path(data)).allowing_development_password())
    http = TestClient(create_app(service, run_batcher=False))
    regulator = {"Authorization": f"Bearer {service.regulator_api_key}"}
    body = {"name": PHARMACY.name, "roles": PHARMACY.roles.names(), "gln": PHARMACY.gln}
    created = http.post("/participants", json=body, headers=regulator)
    assert created.status_code == 201, created.text
    yield http, {"Authorization": f"Bearer {created.json()['apiKey']}"}, regulator
    service.stop()


@pytest.mark.parametrize(("url", "rule"), REFUSED.values(), ids=REFUSED.keys())
def test_a_webhook_url_that_could_reach_inside_is_refused(
    pharmacy: Shared, url: str, rule: str
) -> None:
    http, key, _ = pharmacy
    answer = http.put("/participants/me/webhook", json={"url": url}, headers=key)
    assert answer.status_code == 422, answer.text
    assert answer.json()["rule"] == rule
    assert len(answer.text) < 1500  # the URL is echoed cut short


def test_public_urls_are_accepted(pharmacy: Shared) -> None:
    http, key, _ = pharmacy
    for url in (
        "https://hooks.example/recalls?token=abc",
        "http://erp.partner.example:8080/hooks",
        "https://xn--bcher-kva.example/hook",
        "http://93.184.215.14/hook",
        "http://[2606:4700:4700::1111]:8443/hook",
        "http://[64:ff9b::808:808]/",  # NAT64 of a public address
    ):
        answer = http.put("/participants/me/webhook", json={"url": url}, headers=key)
        assert answer.status_code == 200, (url, answer.text)


def test_registration_refuses_an_inside_webhook_before_registering(pharmacy: Shared) -> None:
    http, _, regulator = pharmacy
    body = {
        "name": "Hospital",
        "roles": ["hospital"],
        "gln": gln("4700999", "1"),
        "webhookUrl": "http://169.254.169.254/latest/meta-data/",
    }
    answer = http.post("/participants", json=body, headers=regulator)
    assert answer.status_code == 422, answer.text
    assert answer.json()["rule"] == "webhook.url-address"
    assert answer.json()["pointer"] == "/webhookUrl"


def test_the_allowlist_admits_private_networks_and_hosts_only() -> None:
    """A private deployment lists its partners; everything else is still refused."""
    policy = TargetPolicy.from_allowlist(["10.20.0.0/16", "fd00:1::/32", "erp.partner.internal"])
    policy.check_url("http://10.20.3.4:8443/hook")
    policy.check_url("http://[::ffff:10.20.3.4]/hook")
    policy.check_url("http://[fd00:1::5]/hook")
    policy.check_address(ipaddress.ip_address("127.0.0.1"), host="erp.partner.internal")
    for url in ("http://10.21.0.1/", "http://127.0.0.1/", "http://user:pw@10.20.3.4/"):
        with pytest.raises(ValueError, match="webhook"):
            policy.check_url(url)
    with pytest.raises(ValueError, match="not a CIDR or a host name"):
        TargetPolicy.from_allowlist(["http://10.0.0.1/"])


def test_every_resolved_address_is_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One private answer among public ones refuses the name (no picking the good one)."""
    answers = {
        "mixed.example": ["93.184.215.14", "10.0.0.1"],
        "public.example": ["93.184.215.14", "2606:4700::1"],
    }

    def resolve(host: str, port: int) -> list[webhook_targets.IPAddress]:
        return [ipaddress.ip_address(a) for a in answers[host]]

    monkeypatch.setattr(webhook_targets, "resolver", resolve)
    policy = TargetPolicy()
    with pytest.raises(ValueError, match=r"mixed\.example \(10\.0\.0\.1\): a private address"):
        policy.resolve("https://mixed.example/hook")
    target, addresses = policy.resolve("https://public.example/hook")
    assert [str(a) for a in addresses] == ["93.184.215.14", "2606:4700::1"]
    assert target.host == "public.example"


def test_a_delivery_connects_to_the_checked_address_with_the_original_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The request goes to the IP that was checked; Host and the TLS server name stay the
    URL's (so a second DNS lookup cannot send it elsewhere, and certificates still verify)."""
    checked = [ipaddress.ip_address("2606:4700::1"), ipaddress.ip_address("93.184.215.14")]
    monkeypatch.setattr(webhook_targets, "resolver", lambda host, port: checked)
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "2606:4700::1":  # no IPv6 route: the next checked address
            raise httpx.ConnectError("unreachable", request=request)
        return httpx.Response(204)

    client = WebhookClient(TargetPolicy(), transport=httpx.MockTransport(answer))
    status = client("https://Hooks.Partner.example:8443/recalls?x=1", b"{}", {"A": "b"}, 5.0)
    assert status == 204
    [_, request] = seen
    assert str(request.url) == "https://93.184.215.14:8443/recalls?x=1"
    assert request.headers["Host"] == "hooks.partner.example:8443"
    assert request.extensions["sni_hostname"] == "hooks.partner.example"
    assert request.headers["A"] == "b"
