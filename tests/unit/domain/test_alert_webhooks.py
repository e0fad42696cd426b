"""Alert webhooks' pure rules: the signature, its verification, the back-off, the checks."""

from __future__ import annotations

import hashlib
import hmac
import random

import pytest

from chatpulse.domain.alert_webhooks import (
    backoff_micros,
    check,
    check_url,
    ordered_severities,
    short_error,
    signature,
    verify,
)
from chatpulse.domain.errors import FieldError

BODY = b'{"type":"alert.transition","deliveryId":"d"}'


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    expected = hmac.new(b"s3cret-s3cret-16", b"1795953600." + BODY, hashlib.sha256).hexdigest()
    assert signature("s3cret-s3cret-16", 1795953600, BODY) == f"t=1795953600,v1={expected}"


def test_verify_accepts_its_own_signature_within_the_tolerance() -> None:
    header = signature("s3cret-s3cret-16", 1000, BODY)
    assert verify("s3cret-s3cret-16", header, BODY, now=1000)
    assert verify("s3cret-s3cret-16", header, BODY, now=1300)
    assert verify("s3cret-s3cret-16", header, BODY, now=700)
    assert not verify("s3cret-s3cret-16", header, BODY, now=1301)
    assert not verify("s3cret-s3cret-16", header, BODY, now=699)


@pytest.mark.parametrize(
    "header",
    [
        "",
        "v1=abc",
        "t=abc,v1=abc",
        "t=1000",
        "t=1000,v1=" + "0" * 64,
        signature("another-secret-16", 1000, BODY),
        signature("s3cret-s3cret-16", 999, BODY).replace("t=999", "t=1000"),
    ],
)
def test_verify_refuses_anything_else(header: str) -> None:
    assert not verify("s3cret-s3cret-16", header, BODY, now=1000)


def test_verify_accepts_any_matching_v1_among_several() -> None:
    good = signature("s3cret-s3cret-16", 1000, BODY)
    assert verify("s3cret-s3cret-16", good + ",v1=" + "0" * 64, BODY, now=1000)
    assert not verify("s3cret-s3cret-16", good, BODY + b"\n", now=1000)


def test_backoff_doubles_up_to_the_cap_scaled_by_half_to_one() -> None:
    for attempts, ceiling_ms in ((1, 1000), (2, 2000), (3, 4000), (12, 2_048_000), (13, 3_600_000)):
        draws = [
            backoff_micros(attempts, 1000, 3_600_000, random.Random(seed)) for seed in range(200)
        ]
        assert min(draws) >= ceiling_ms * 1000 // 2
        assert max(draws) <= ceiling_ms * 1000
    assert backoff_micros(1000, 1000, 3_600_000, random.Random(1)) <= 3_600_000_000


def test_backoff_is_the_seeded_draw_exactly() -> None:
    factor = random.Random(42).uniform(0.5, 1.0)
    assert backoff_micros(3, 1000, 3_600_000, random.Random(42)) == int(4_000_000 * factor)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://hooks.example/in", None),
        ("http://127.0.0.1:8080/x?y=1", None),
        ("https://[::1]/x", None),
        ("ftp://hooks.example/", "must be an http:// or https:// URL with a host"),
        ("https:///nohost", "must be an http:// or https:// URL with a host"),
        ("hooks.example/in", "must be an http:// or https:// URL with a host"),
        ("https://hooks.example:99999/", "must be an http:// or https:// URL"),
        ("https://hooks.example/a b", "must not contain spaces"),
        ("https://h.example/" + "x" * 2000, "must be at most 2000 characters"),
    ],
)
def test_url_check(url: str, problem: str | None) -> None:
    assert check_url(url) == problem


def test_check_names_every_field() -> None:
    assert check("Ops", "https://h.example", None, None) == []
    assert check("", "x", "short", ["warning", "fatal"]) == [
        FieldError("name", "must not be empty"),
        FieldError("url", "must be an http:// or https:// URL with a host"),
        FieldError("secret", "must be 16 to 200 characters"),
        FieldError("severities", "'fatal' is not warning or critical"),
    ]


def test_severities_keep_their_fixed_order_once_each() -> None:
    assert ordered_severities(None) == ("warning", "critical")
    assert ordered_severities(["critical", "warning", "critical"]) == ("warning", "critical")
    assert ordered_severities(["critical"]) == ("critical",)


def test_an_error_is_one_line_of_at_most_400_characters() -> None:
    assert short_error("a\n  b") == "a b"
    assert short_error("x" * 500) == "x" * 399 + "…"
