"""The address policy of alert webhooks (SSRF): public addresses only."""

from __future__ import annotations

import pytest

from chatpulse.domain.addresses import first_refusal, refusal


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("93.184.215.14", None),
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
        ("127.0.0.1", "loopback"),
        ("127.255.255.254", "loopback"),
        ("::1", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("172.31.255.255", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("fd12:3456::1", "private"),
        ("169.254.169.254", "link-local"),
        ("169.254.0.1", "link-local"),
        ("fe80::1", "link-local"),
        ("100.64.0.1", "shared (carrier-grade NAT)"),
        ("100.127.255.254", "shared (carrier-grade NAT)"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "private"),  # Python files 240/4 under private as well as reserved
        ("255.255.255.255", "private"),
        ("192.0.2.10", "private"),  # documentation ranges
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped: judged as the IPv4 address
        ("::ffff:10.0.0.1", "private"),
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
        ("not an address", "not an IP address"),
    ],
)
def test_refusal(address: str, reason: str | None) -> None:
    assert refusal(address) == reason


def test_a_host_is_refused_when_any_of_its_addresses_is() -> None:
    assert first_refusal(["8.8.8.8", "10.0.0.1", "127.0.0.1"]) == ("10.0.0.1", "private")
    assert first_refusal(["8.8.8.8", "2606:4700:4700::1111"]) is None
    assert first_refusal([]) is None
