"""Typed errors raised by the domain and the use cases, rendered as problem details by the API."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem with one field; `index` is the event's position in a batch, when there is one."""

    field: str
    message: str
    index: int | None = None

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {"field": self.field, "message": self.message}
        if self.index is not None:
            out = {"index": self.index, **out}
        return out


@dataclass(slots=True)
class ChatPulseError(Exception):
    """Base of every error the API turns into a problem-details answer."""

    detail: str
    errors: list[FieldError] = field(default_factory=list)
    status: int = 400

    def __str__(self) -> str:
        return self.detail


class BadParameter(ChatPulseError):
    """A query parameter that cannot be used (400)."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name} {message}", [FieldError(name, message)], 400)


class InvalidBody(ChatPulseError):
    """A body that parses but breaks the rules (422)."""

    def __init__(self, errors: list[FieldError], detail: str | None = None) -> None:
        if detail is None:
            first = errors[0]
            where = f"event {first.index}: " if first.index is not None else ""
            detail = f"{where}{first.field} {first.message}"
            if len(errors) > 1:
                detail += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
        super().__init__(detail, errors, 422)


class MalformedBody(ChatPulseError):
    """A body that cannot be parsed at all (400)."""

    def __init__(self, message: str, field_name: str = "body") -> None:
        super().__init__(message, [FieldError(field_name, message)], 400)


class NotFound(ChatPulseError):
    def __init__(self, what: str, field_name: str = "id") -> None:
        super().__init__(f"{what} not found", [FieldError(field_name, "not found")], 404)


class Conflict(ChatPulseError):
    def __init__(self, field_name: str, message: str, index: int | None = None) -> None:
        super().__init__(f"{field_name} {message}", [FieldError(field_name, message, index)], 409)


class Forbidden(ChatPulseError):
    def __init__(self, message: str, field_name: str = "authorization") -> None:
        super().__init__(message, [FieldError(field_name, message)], 403)


class Unauthorized(ChatPulseError):
    def __init__(self, message: str) -> None:
        super().__init__(message, [FieldError("authorization", message)], 401)


class PayloadTooLarge(ChatPulseError):
    def __init__(self, message: str) -> None:
        super().__init__(message, [FieldError("body", message)], 413)


class UnsupportedMediaType(ChatPulseError):
    def __init__(self, message: str) -> None:
        super().__init__(message, [FieldError("Content-Type", message)], 415)
