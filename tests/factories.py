"""What the tests build again and again, built once: events of the usual kinds (numbered with
tests.support.uid, placed at T + seconds), the sequences many tests start from, and the answers
they expect of a site with nothing going on."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from sqlalchemy import Engine

from chatpulse.store import sites
from tests.support import ONLINE, SiteClient, ev, uid

Event = dict[str, Any]

_RIGHT_NOW_COUNTS = (
    "loggedInAgents",
    "agentsInChat",
    "chatUtilization",
    "visitorOnSite",
    "ongoingChats",
    "ongoingChatsWithAgent",
    "currentQueueLength",
    "ongoingChatsWithBot",
)


def right_now(**counts: int) -> dict[str, int]:
    """The RightNow body, every count 0 but those given (`right_now()`: a site with nothing
    going on). A new dict at every call, in the field order the server writes."""
    unknown = counts.keys() - set(_RIGHT_NOW_COUNTS)
    assert not unknown, f"not RightNow fields: {sorted(unknown)}"
    return {name: counts.get(name, 0) for name in _RIGHT_NOW_COUNTS}


def problem(status: int, detail: str, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """An RFC 9457 problem details body as the server writes it (the title: the status's
    standard phrase)."""
    return {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "errors": errors or [],
    }


def tenant(engine: Engine, name: str, time_zone: str = "UTC") -> tuple[int, str]:
    """A site written straight to the database (for a server in another process) and an
    all-scope token of it: (site id, token)."""
    site = sites.create_site(engine, name, time_zone, 0)
    _, token = sites.create_token(engine, site.id, "t", sites.ALL_SCOPES, 0)
    return site.id, token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# ---------------------------------------------------------------- single events


def agent_status(agent: int, seconds: float, status: str = ONLINE) -> Event:
    """Agent `agent` changes to `status` (a built-in status id or a custom one)."""
    return ev("agent.status_changed", seconds, agentId=uid("agent", agent), statusId=status)


def visitor_arrived(n: int, seconds: float = -60, event_id: str | None = None) -> Event:
    return ev("visitor.arrived", seconds, event_id, visitorId=uid("visitor", n))


def chat_requested(
    n: int,
    seconds: float = -10,
    department: int | None = 1,
    visitor: int | None = None,
    event_id: str | None = None,
) -> Event:
    """Chat n is requested by visitor n (or `visitor`), routed to `department` (None: to no
    department)."""
    data: dict[str, str] = {
        "chatId": uid("chat", n),
        "visitorId": uid("visitor", n if visitor is None else visitor),
    }
    if department is not None:
        data["departmentId"] = uid("dept", department)
    return ev("chat.requested", seconds, event_id, **data)


def chat_accepted(n: int, seconds: float, agent: int = 1) -> Event:
    return ev("chat.accepted", seconds, chatId=uid("chat", n), agentId=uid("agent", agent))


# ---------------------------------------------------------------- sequences


def waiting_chat(
    n: int, arrived: float, requested: float, department: int | None = 1
) -> list[Event]:
    """Visitor n arrives, then asks for chat n in `department`."""
    return [visitor_arrived(n, arrived), chat_requested(n, requested, department)]


def alice_in_sales(site: SiteClient, capacity: int = 3) -> None:
    """Department 1, "Sales", with agent 1, "Alice" (`capacity` chats at once), in it."""
    site.department(1, "Sales")
    site.agent(1, "Alice", departments=(1,), capacity=capacity)
