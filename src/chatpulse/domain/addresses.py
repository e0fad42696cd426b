"""Which network addresses an alert webhook may be sent to (docs/alert_webhooks.md, SSRF).

A webhook URL is given by a tenant and fetched by the server, from inside its network: an
address that is not on the public internet (loopback, private ranges, link-local — the cloud
metadata service at 169.254.169.254 among them —, carrier-grade NAT, multicast, reserved) is
refused unless the operator allows private addresses. Pure: the caller resolves the host.
"""

from __future__ import annotations

import ipaddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_CGNAT = ipaddress.ip_network("100.64.0.0/10")


def refusal(address: str | IPAddress) -> str | None:
    """Why `address` may not receive webhooks (a short reason), or None when it may."""
    try:
        ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    except ValueError:
        return "not an IP address"
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is not None:  # ::ffff:127.0.0.1 reaches 127.0.0.1
            return refusal(mapped)
    checks = (
        (ip.is_unspecified, "unspecified"),
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local"),
        (ip.is_multicast, "multicast"),
        (isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT, "shared (carrier-grade NAT)"),
        (ip.is_private, "private"),
        (ip.is_reserved, "reserved"),
        (not ip.is_global, "not globally routable"),
    )
    for refused, reason in checks:
        if refused:
            return reason
    return None


def first_refusal(addresses: list[str]) -> tuple[str, str] | None:
    """The first of `addresses` that is refused, with its reason: a host is refused when any of
    its addresses is (a client may connect to any of them)."""
    for address in addresses:
        reason = refusal(address)
        if reason is not None:
            return address, reason
    return None
