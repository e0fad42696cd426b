"""Reading a platform's JSON: typed fields, and a PayloadError naming the dotted path of any
field that is not what the platform documents."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from chatpulse.connectors.model import PayloadError


@dataclass(frozen=True, slots=True)
class Node:
    """A JSON object and its dotted path in the delivery (`""` for the top)."""

    value: Mapping[str, object]
    path: str

    @staticmethod
    def of(value: object, path: str) -> Node:
        if not isinstance(value, Mapping):
            raise PayloadError(path or "body", "must be an object")
        return Node(value, path)

    def at(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def has(self, name: str) -> bool:
        return self.value.get(name) is not None

    def child(self, name: str) -> Node:
        return Node.of(self.value.get(name), self.at(name))

    def opt_child(self, name: str) -> Node | None:
        return self.child(name) if self.has(name) else None

    def text(self, name: str) -> str:
        value = self.value.get(name)
        if not isinstance(value, str) or not value:
            raise PayloadError(self.at(name), "must be a non-empty string")
        return value

    def opt_text(self, name: str) -> str | None:
        return self.text(name) if self.has(name) else None

    def integer(self, name: str) -> int:
        value = self.value.get(name)
        if not isinstance(value, int) or isinstance(value, bool):
            raise PayloadError(self.at(name), "must be an integer")
        return value

    def opt_integer(self, name: str) -> int | None:
        return self.integer(name) if self.has(name) else None

    def instant(self, name: str) -> dt.datetime:
        return instant(self.text(name), self.at(name))

    def items(self, name: str) -> list[object]:
        """An array; absent or null reads as empty."""
        value = self.value.get(name)
        if value is None:
            return []
        if not isinstance(value, list):
            raise PayloadError(self.at(name), "must be an array")
        return value

    def children(self, name: str) -> list[Node]:
        return [Node.of(item, f"{self.at(name)}[{i}]") for i, item in enumerate(self.items(name))]

    def integers(self, name: str) -> list[int]:
        result: list[int] = []
        for i, item in enumerate(self.items(name)):
            if not isinstance(item, int) or isinstance(item, bool):
                raise PayloadError(f"{self.at(name)}[{i}]", "must be an integer")
            result.append(item)
        return result

    def texts(self, name: str) -> list[str]:
        result: list[str] = []
        for i, item in enumerate(self.items(name)):
            if not isinstance(item, str) or not item:
                raise PayloadError(f"{self.at(name)}[{i}]", "must be a non-empty string")
            result.append(item)
        return result


def instant(text: str, field_name: str) -> dt.datetime:
    """An RFC 3339 date-time (an offset or Z required) as an aware UTC datetime."""
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise PayloadError(field_name, "must be an RFC 3339 date-time") from None
    if moment.utcoffset() is None:
        raise PayloadError(field_name, "must have an offset or Z")
    return moment.astimezone(dt.UTC)
