"""Which IP addresses the watcher may connect to.

A feed URL is untrusted input: without a guard, a feed (or a redirect, or a
DNS answer that changes between look-ups) could make the watcher fetch from
the machine it runs on or its private network. Everything that is not a
public unicast address is refused unless the operator allowed it
(``network.allow_private``). IPv6 forms that carry an IPv4 address
(IPv4-mapped ``::ffff:a.b.c.d``, NAT64 ``64:ff9b::/96``, 6to4 ``2002::/16``)
are judged by the IPv4 address inside them.
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

# Checked in order; the first match names the reason.
_BLOCKED: tuple[tuple[IPNetwork, str], ...] = tuple(
    (ip_network(net), reason)
    for net, reason in (
        ("0.0.0.0/8", "'this network' address"),
        ("10.0.0.0/8", "private address"),
        ("100.64.0.0/10", "shared (carrier-grade NAT) address"),
        ("127.0.0.0/8", "loopback address"),
        ("169.254.0.0/16", "link-local address"),
        ("172.16.0.0/12", "private address"),
        ("192.0.0.0/24", "IETF protocol address"),
        ("192.0.2.0/24", "documentation address"),
        ("192.168.0.0/16", "private address"),
        ("198.18.0.0/15", "benchmarking address"),
        ("198.51.100.0/24", "documentation address"),
        ("203.0.113.0/24", "documentation address"),
        ("224.0.0.0/4", "multicast address"),
        ("240.0.0.0/4", "reserved address"),
        ("::/128", "unspecified address"),
        ("::1/128", "loopback address"),
        ("fc00::/7", "unique-local (private) address"),
        ("fe80::/10", "link-local address"),
        ("fec0::/10", "site-local address"),
        ("ff00::/8", "multicast address"),
        ("2001:db8::/32", "documentation address"),
        ("2001::/23", "IETF protocol address (Teredo and others)"),
        ("100::/64", "discard-only address"),
        ("::/8", "reserved address"),
    )
)

_NAT64 = (ip_network("64:ff9b::/96"), ip_network("64:ff9b:1::/48"), ip_network("::ffff:0:0:0/96"))
_SIX_TO_FOUR = ip_network("2002::/16")


def parse(text: str) -> IPAddress | None:
    """The address in ``text`` (zone index dropped), or None if it is not an IP literal."""
    try:
        return ip_address(text.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def refusal(address: IPAddress, allow: Sequence[IPNetwork] = ()) -> str | None:
    """None if the watcher may connect to ``address``; otherwise why not,
    e.g. ``"loopback address"``."""
    for candidate in _judged(address):
        if any(candidate.version == net.version and candidate in net for net in allow):
            continue
        reason = _reason(candidate)
        if reason is not None:
            return reason if candidate == address else f"{reason} ({candidate}) wrapped in IPv6"
    return None


def _judged(address: IPAddress) -> tuple[IPAddress, ...]:
    """The address that decides: for IPv6 forms that embed an IPv4 address,
    the IPv4 address (the IPv6 prefix only names the translator or relay)."""
    if isinstance(address, IPv4Address):
        return (address,)
    if address.ipv4_mapped is not None:
        return (address.ipv4_mapped,)
    if any(address in net for net in _NAT64):
        return (IPv4Address(int(address) & 0xFFFFFFFF),)
    if address in _SIX_TO_FOUR and address.sixtofour is not None:
        return (address.sixtofour,)
    return (address,)


def _reason(address: IPAddress) -> str | None:
    for net, reason in _BLOCKED:
        if address.version == net.version and address in net:
            return reason
    if address.is_multicast or address.is_reserved or address.is_unspecified:
        return "reserved address"
    if not address.is_global:
        return "non-public address"
    return None
