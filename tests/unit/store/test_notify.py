"""The ingest notifications' payloads: `<site_id>:<sequence>` (the channel older releases
read) and `<site_id>:<sequence>:<department keys>|*`; anything else ignored."""

import pytest

from chatpulse.store.notify import parse_payload

A = "0b8f6f4e-58a1-4b7c-9a55-8c0a34a5e0f1"
B = "7d2c1c52-1b0e-4d4e-8f5f-2f4b7f9d8a10"


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ("10000:42", (10000, 42, None)),
        ("1:0", (1, 0, None)),
        ("10000:42:*", (10000, 42, None)),
        (f"7:9:{A}", (7, 9, frozenset({A}))),
        (f"7:9:{B},{A},~visitors", (7, 9, frozenset({A, B, "~visitors"}))),
        ("10000", None),
        ("10000:", None),
        (":42", None),
        ("-1:42", None),
        ("10000:4x", None),
        ("10000:4x:*", None),
        ("", None),
    ],
)
def test_a_payload_names_a_site_its_last_sequence_and_the_departments_changed(
    payload: str, expected: tuple[int, int, frozenset[str] | None] | None
) -> None:
    assert parse_payload(payload) == expected
