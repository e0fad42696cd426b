"""The ingest notification's payload: `<site_id>:<sequence>`, anything else ignored."""

import pytest

from chatpulse.store.notify import parse_payload


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ("10000:42", (10000, 42)),
        ("1:0", (1, 0)),
        ("10000", None),
        ("10000:", None),
        (":42", None),
        ("-1:42", None),
        ("10000:4x", None),
        ("", None),
    ],
)
def test_a_payload_names_a_site_and_its_last_sequence(
    payload: str, expected: tuple[int, int] | None
) -> None:
    assert parse_payload(payload) == expected
