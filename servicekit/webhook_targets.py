"""Where a webhook may point: the URL checks at registration and the address checks at delivery.

Shared by the gateway's recall notifications (gateway/webhooks.py) and the indexer's EPCIS
subscriptions (indexer/subscriptions/delivery.py). A webhook URL is chosen by a participant (or a
reader), and the service POSTs to it from inside the operator's network, so an unchecked URL lets
any of them make the service send requests to the operator's own services (server-side request
forgery): the chain node's JSON-RPC port, a cloud metadata service at 169.254.169.254, an admin
console on the loopback interface.

- **At registration** (:meth:`TargetPolicy.check_url`) a URL must be ``http`` or ``https``, pure
  printable ASCII without whitespace, control characters or backslashes, without credentials
  (``user:pass@``), and its host a DNS name or a canonical IP literal. An IP literal is checked at
  once; an IPv4 address in any other spelling (``127.1``, ``2130706433``, ``0x7f000001``,
  ``0177.0.0.1``) and the ``localhost`` names are refused outright, whatever they mean.
- **At every delivery** (:meth:`TargetPolicy.resolve`) the URL is checked again (it may predate
  these rules), the host is resolved once, every address it resolves to is checked, and the request
  is sent to one of those addresses (the next only when one cannot be connected to), with the
  original ``Host`` header and TLS server name (:class:`WebhookClient`). A name that resolved to a
  public address at registration and to 127.0.0.1 now is refused: there is no second lookup for DNS
  rebinding to race.

An address is refused unless it is public unicast (:func:`refusal`): loopback, private (RFC 1918,
unique-local ``fc00::/7``), shared (``100.64.0.0/10``), link-local, multicast, unspecified, reserved
and the other special-purpose ranges are refused in every spelling, including the IPv4 address
inside an IPv4-mapped (``::ffff:a.b.c.d``) or NAT64 (``64:ff9b::/96``) IPv6 address, and inside a
6to4 (``2002::/16``) one. Deprecated IPv4-compatible addresses (``::a.b.c.d``) are refused as such.

Deployments whose partners sit on a private network list those networks (CIDRs) or host names in an
allow-list (``PROVENANCE_GATEWAY_WEBHOOK_ALLOWLIST``, the indexer's
``PROVENANCE_INDEXER_SUBSCRIPTION_ALLOWLIST``: :attr:`TargetPolicy.setting` names it in refusals);
everything else still applies to them. See ``docs/security.md`` ("Webhooks and secrets at rest").
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from medledger.errors import ValidationError, echo

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Longer URLs are refused (a webhook URL is a short address, not a place to store data).
MAX_URL_LENGTH = 2048
SCHEMES = {"http": 80, "https": 443}

RULE_URL = "webhook.url"
RULE_SCHEME = "webhook.url-scheme"
RULE_CHARACTERS = "webhook.url-characters"
RULE_CREDENTIALS = "webhook.url-credentials"
RULE_ADDRESS = "webhook.url-address"

# RFC 6052: the NAT64 well-known prefix embeds an IPv4 address in its last 32 bits.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# RFC 4291 2.5.5.1: deprecated "IPv4-compatible" addresses (:: and ::1 are named first).
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
# Special-purpose ranges (RFC 6890 and its updates) that ipaddress's is_global does not name on
# every Python version; refused whatever the interpreter says.
_SPECIAL: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",  # "this network"
        "100.64.0.0/10",  # shared address space (carrier-grade NAT)
        "192.0.0.0/24",  # IETF protocol assignments
        "198.18.0.0/15",  # benchmarking
        "240.0.0.0/4",  # reserved, and the limited broadcast address
        "64:ff9b:1::/48",  # local-use NAT64 (RFC 8215)
        "100::/64",  # discard-only
        "2001::/23",  # IETF protocol assignments (Teredo, ORCHID, ...)
        "2001:db8::/32",  # documentation
        "fc00::/7",  # unique local
        "fec0::/10",  # site-local (deprecated)
    )
)
# RFC 6761 6.3: names under "localhost" are the loopback interface; no resolver is asked.
_LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


def refusal(address: IPAddress) -> str | None:
    """Why a webhook may not be delivered to ``address``, or None for a public unicast address."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            return "an IPv6 address with a zone"
        if address.ipv4_mapped is not None:
            inner = refusal(address.ipv4_mapped)
            return f"{inner} (IPv4-mapped)" if inner else None
        if address in _NAT64:
            inner = refusal(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
            return f"{inner} (inside NAT64)" if inner else None
        if address.sixtofour is not None:
            inner = refusal(address.sixtofour)
            if inner:
                return f"{inner} (inside 6to4)"
        if address.is_unspecified:
            return "the unspecified address"
        if address.is_loopback:
            return "a loopback address"
        if address in _IPV4_COMPATIBLE:
            return "an IPv4-compatible IPv6 address (deprecated)"
        if address.is_site_local:
            return "a site-local address"
    for name, why in (
        ("is_unspecified", "the unspecified address"),
        ("is_loopback", "a loopback address"),
        ("is_link_local", "a link-local address"),
        ("is_multicast", "a multicast address"),
        ("is_private", "a private address"),
        ("is_reserved", "a reserved address"),
    ):
        if getattr(address, name):
            return why
    if any(address in network for network in _SPECIAL if network.version == address.version):
        return "a special-purpose address"
    if not address.is_global:
        return "not a public address"
    return None


@dataclass(frozen=True)
class WebhookUrl:
    """A webhook URL that passed the syntax checks."""

    url: httpx.URL
    #: The host as sent (ASCII, lower case, IDNA already applied), no brackets, no final dot.
    host: str
    port: int
    #: The host's address when the URL names an IP literal.
    address: IPAddress | None


def _refuse(message: str, rule: str, pointer: str | None) -> ValidationError:
    return ValidationError(message, rule=rule, pointer=pointer)


def parse_url(url: str, *, pointer: str | None = None) -> WebhookUrl:
    """Check a webhook URL's syntax (not yet where it points); :class:`ValidationError` if bad."""
    shown = echo(url)
    if len(url) > MAX_URL_LENGTH:
        raise _refuse(f"a webhook URL is at most {MAX_URL_LENGTH} characters", RULE_URL, pointer)
    bad = next((c for c in url if not "\x20" < c < "\x7f" or c == "\\"), None)
    if bad is not None:
        raise _refuse(
            f"a webhook URL may hold only printable ASCII without spaces or backslashes "
            f"(found {bad!r}; give an international domain name in its xn-- form): {shown}",
            RULE_CHARACTERS,
            pointer,
        )
    try:
        split = urlsplit(url)
        split_host, split_port = split.hostname or "", split.port
    except ValueError as exc:
        raise _refuse(f"not a URL ({exc}): {shown}", RULE_URL, pointer) from exc
    if split.scheme.lower() not in SCHEMES:
        raise _refuse(f"a webhook URL must be http or https: {shown}", RULE_SCHEME, pointer)
    if "@" in split.netloc:
        raise _refuse(
            "a webhook URL may not carry credentials (user:password@); the gateway signs "
            "every delivery instead",
            RULE_CREDENTIALS,
            pointer,
        )
    address: IPAddress | None = None
    try:
        address = ipaddress.ip_address(split_host)
    except ValueError:
        _check_name(split_host.removesuffix("."), shown, pointer)
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise _refuse(f"not a URL ({exc}): {shown}", RULE_URL, pointer) from exc
    host = parsed.raw_host.decode("ascii").lower()
    # Two parsers must agree on where the request goes (parser differentials are an old SSRF
    # trick): urlsplit's host and port and httpx's, which sends the request.
    port = parsed.port or SCHEMES[parsed.scheme]
    if parsed.userinfo or host != split_host or port != (split_port or SCHEMES[parsed.scheme]):
        raise _refuse(f"a webhook URL must name one host: {shown}", RULE_URL, pointer)
    if address is None:
        host = host.removesuffix(".")
    return WebhookUrl(url=parsed, host=host, port=port, address=address)


def _check_name(host: str, shown: str, pointer: str | None) -> None:
    if not host:
        raise _refuse(f"a webhook URL needs a host: {shown}", RULE_URL, pointer)
    labels = host.split(".")
    if any(not label or len(label) > 63 for label in labels) or len(host) > 253:
        raise _refuse(f"not a host name: {shown}", RULE_URL, pointer)
    if not all(c.isalnum() or c in "-_" for label in labels for c in label):
        raise _refuse(f"not a host name: {shown}", RULE_URL, pointer)
    # What the C library would read as an IPv4 address (127.1, 2130706433, 0x7f000001,
    # 0177.0.0.1) is refused in every spelling but the canonical dotted quad; so is any name
    # whose last label is a number, which URL parsers disagree about.
    last = labels[-1]
    if last.isdigit() or (last.startswith("0x") and all(c in "0123456789abcdef" for c in last[2:])):
        meaning = ""
        try:
            meaning = f" (it means {socket.inet_ntoa(socket.inet_aton(host))})"
        except OSError:
            pass
        raise _refuse(
            f"an IPv4 address must be written as four decimal numbers: {host!r}{meaning}",
            RULE_ADDRESS,
            pointer,
        )


def _is_loopback_name(host: str) -> bool:
    return host in _LOOPBACK_NAMES or host.endswith(".localhost")


def _system_resolver(host: str, port: int) -> list[IPAddress]:
    answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in answers:
        address = ipaddress.ip_address(str(sockaddr[0]))
        if address not in addresses:
            addresses.append(address)
    return addresses


#: Resolves a host name to its addresses; tests replace it (``monkeypatch.setattr``).
resolver = _system_resolver


@dataclass(frozen=True)
class TargetPolicy:
    """Which addresses webhooks may reach: public unicast ones, and those allowed by the operator
    (networks, or host names whose every address is then allowed)."""

    networks: tuple[IPNetwork, ...] = ()
    hosts: frozenset[str] = frozenset()
    #: the setting a refusal names (where a private deployment allows its partners)
    setting: str = "PROVENANCE_GATEWAY_WEBHOOK_ALLOWLIST"

    @classmethod
    def from_allowlist(
        cls, entries: Iterable[str], *, setting: str = "PROVENANCE_GATEWAY_WEBHOOK_ALLOWLIST"
    ) -> TargetPolicy:
        """CIDRs (``10.20.0.0/16``, ``fd00::/8``, a bare address) and host names."""
        networks: list[IPNetwork] = []
        hosts: set[str] = set()
        for raw in entries:
            entry = raw.strip().lower()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                if entry.startswith("[") or "/" in entry or ":" in entry:
                    raise ValueError(f"not a CIDR or a host name: {raw!r}") from None
                name = entry.removesuffix(".")
                _check_name(name, echo(name), None)
                hosts.add(name)
        return cls(networks=tuple(networks), hosts=frozenset(hosts), setting=setting)

    def _allowed(self, address: IPAddress) -> bool:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in n for n in self.networks if n.version == address.version)

    def check_address(self, address: IPAddress, *, host: str, pointer: str | None = None) -> None:
        if host in self.hosts or self._allowed(address):
            return
        why = refusal(address)
        if why is not None:
            shown = host if host == str(address) else f"{host} ({address})"
            raise _refuse(
                f"webhooks may not reach {shown}: {why}; a private deployment lists its "
                f"partners' networks in {self.setting}",
                RULE_ADDRESS,
                pointer,
            )

    def check_url(self, url: str, *, pointer: str | None = None) -> WebhookUrl:
        """Registration: the URL's syntax, and its host when that is an IP literal or a
        loopback name. A DNS name is resolved and checked at each delivery, not here."""
        target = parse_url(url, pointer=pointer)
        if target.address is not None:
            self.check_address(target.address, host=target.host, pointer=pointer)
        elif _is_loopback_name(target.host) and target.host not in self.hosts:
            raise _refuse(
                f"webhooks may not reach {target.host}: a loopback name; a private deployment "
                f"lists its partners in {self.setting}",
                RULE_ADDRESS,
                pointer,
            )
        return target

    def resolve(self, url: str) -> tuple[WebhookUrl, list[IPAddress]]:
        """Delivery: check ``url`` again, resolve its host once and check every address it
        resolves to (one refused address refuses them all). Returns the addresses to connect
        to, in the resolver's order."""
        target = self.check_url(url)
        if target.address is not None:
            return target, [target.address]
        try:
            addresses = resolver(target.host, target.port)
        except OSError as exc:
            raise ConnectionError(f"cannot resolve {target.host}: {exc}") from exc
        if not addresses:
            raise ConnectionError(f"{target.host} resolves to no address")
        for address in addresses:
            self.check_address(address, host=target.host)
        return target, addresses


class WebhookClient:
    """POSTs a delivery to the address :meth:`TargetPolicy.resolve` checked, and nowhere else.

    The request goes to ``scheme://<checked IP>:port/path`` with the URL's ``Host`` header and,
    for https, its host name as TLS server name (SNI) and for certificate verification (httpx's
    ``sni_hostname`` request extension). Redirects are not followed (a 3xx is a failed attempt),
    environment proxies are not used (a proxy would resolve the name itself), and the answer's
    body is never read.
    """

    def __init__(self, policy: TargetPolicy, *, transport: httpx.BaseTransport | None = None):
        self.policy = policy
        self._transport = transport  # tests: an httpx.MockTransport

    def __call__(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
        target, addresses = self.policy.resolve(url)
        extensions: dict[str, Any] = {}
        if target.url.scheme == "https" and target.address is None:
            extensions["sni_hostname"] = target.host
        sent = {**headers, "Host": target.url.netloc.decode("ascii")}
        with httpx.Client(
            trust_env=False, follow_redirects=False, timeout=timeout, transport=self._transport
        ) as client:
            # The next checked address only when this one could not be connected to (an IPv6
            # address on a host without IPv6, say); once connected, the answer is the answer.
            for address in addresses[:-1]:
                try:
                    return self._post(client, target, address, body, sent, extensions)
                except (httpx.ConnectError, httpx.ConnectTimeout):
                    continue
            return self._post(client, target, addresses[-1], body, sent, extensions)

    @staticmethod
    def _post(
        client: httpx.Client,
        target: WebhookUrl,
        address: IPAddress,
        body: bytes,
        headers: dict[str, str],
        extensions: dict[str, Any],
    ) -> int:
        direct = target.url.copy_with(host=str(address))
        with client.stream(
            "POST", direct, content=body, headers=headers, extensions=extensions
        ) as answer:
            return answer.status_code
