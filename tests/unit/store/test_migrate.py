"""The schema revision the code expects is Alembic's newest: a new migration must move HEAD."""

from chatpulse.store import migrate


def test_head_constant_is_alembics_head() -> None:
    assert migrate.head_revision() == migrate.HEAD == "0006"
