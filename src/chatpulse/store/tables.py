"""The schema: sites and tokens, configuration, the event log, and the projections the views read.

Instants are integer microseconds since the epoch (UTC); an interval still open ends at OPEN.
Every table is keyed by site first, and every index a query needs is declared next to its table.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
)

from chatpulse.domain.cohort import COHORT_FIELDS, LONGEST
from chatpulse.domain.rollups import WAIT_FIELDS

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = String(36)


def _site() -> Column[int]:
    return Column("site_id", Integer, primary_key=True, autoincrement=False)


sites = Table(
    "sites",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(200), nullable=False),
    Column("time_zone", String(64), nullable=False),
    Column("last_sequence", BigInteger, nullable=False, default=0),
    # Moves with every configuration write: cached views are keyed by it and last_sequence.
    Column("config_version", BigInteger, nullable=False, default=0),
    Column("created_at", BigInteger, nullable=False),
    # The last sequence up to which every batch recorded the departments it changed
    # (department_versions); behind last_sequence when a release that keeps no such record
    # ingested meanwhile (a rolling upgrade): readers then key department views by the site.
    Column("departments_upto", BigInteger, nullable=False, default=0, server_default="0"),
    # METRICS.md §7: T and S in whole seconds (departments may override them).
    Column("service_level_seconds", Integer, nullable=False, default=30, server_default="30"),
    Column("short_abandon_seconds", Integer, nullable=False, default=0, server_default="0"),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", ID, primary_key=True),
    Column("site_id", Integer, nullable=False),
    Column("name", String(200), nullable=False),
    Column("scopes", String(200), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", BigInteger, nullable=False),
    Column("revoked_at", BigInteger, nullable=True),
    Index(None, "site_id"),
)

departments = Table(
    "departments",
    metadata,
    _site(),
    Column("id", ID, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("is_available_in_live_chat", Boolean, nullable=False),
    Column("is_deleted", Boolean, nullable=False),
    Column("doc", Text, nullable=False),  # the Comm100 object as JSON
    # The department's own T and S (METRICS.md §7), None: the site's.
    Column("service_level_seconds", Integer),
    Column("short_abandon_seconds", Integer),
)

agents = Table(
    "agents",
    metadata,
    _site(),
    Column("id", ID, primary_key=True),
    Column("display_name", String(200), nullable=False),
    Column("sort_name", String(200), nullable=False),  # display_name.casefold(), for ORDER BY
    Column("email", String(320), nullable=False),
    Column("is_active", Boolean, nullable=False),
    Column("is_deleted", Boolean, nullable=False),
    Column("max_concurrent_chats", Integer, nullable=False),
    Column("doc", Text, nullable=False),  # the Comm100 object as JSON
)

agent_departments = Table(
    "agent_departments",
    metadata,
    _site(),
    Column("department_id", ID, primary_key=True),
    Column("agent_id", ID, primary_key=True),
    Index("ix_agent_departments_by_agent", "site_id", "agent_id", "department_id"),  # covering
)

agent_statuses = Table(
    "agent_statuses",
    metadata,
    _site(),
    Column("id", ID, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("type", String(8), nullable=False),
    Column("is_system", Boolean, nullable=False),
    Column("order", Integer, nullable=False),
    Column("is_deleted", Boolean, nullable=False, default=False),
)

events = Table(
    "events",
    metadata,
    _site(),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("id", ID, nullable=False),
    Column("type", String(32), nullable=False),
    Column("occurred_at", BigInteger, nullable=False),
    Column("data", Text, nullable=False),
    Column("recorded_at", BigInteger, nullable=False),
    Index(None, "site_id", "id", unique=True),
)

chats = Table(
    "chats",
    metadata,
    _site(),
    Column("chat_id", ID, primary_key=True),
    Column("visitor_id", ID, nullable=False),
    Column("contact_identity_id", ID),
    Column("state", String(9), nullable=False),
    Column("requested_at", BigInteger, nullable=False),
    Column("last_event_at", BigInteger, nullable=False),
    Column("department_id", ID),
    Column("cohort_department_id", ID),
    Column("route_department_id", ID),
    Column("route_agent_id", ID),
    Column("agent_id", ID),
    Column("handler_since", BigInteger),
    Column("handling_no", Integer, nullable=False),
    Column("wait_no", Integer, nullable=False),
    Column("wait_started_at", BigInteger),
    Column("first_wait_ended_at", BigInteger),
    Column("first_wait_length", BigInteger),
    Column("first_wait_department_id", ID),
    Column("accepted_at", BigInteger),
    Column("ended_at", BigInteger),
    Column("transferred", Boolean, nullable=False),
    Column("department_transferred", Boolean, nullable=False),
    Column("first_agent_id", ID),
    Column("multi_agent", Boolean, nullable=False),
    Column("score", Integer),
    Column("response_total", BigInteger, nullable=False),
    Column("response_count", Integer, nullable=False),
    Column("pending_visitor_since", BigInteger),
    Index(None, "site_id", "requested_at"),
    Index(None, "site_id", "cohort_department_id", "requested_at"),
    Index(None, "site_id", "state", "department_id"),
)

waits = Table(
    "waits",
    metadata,
    _site(),
    Column("chat_id", ID, primary_key=True),
    Column("wait_no", Integer, primary_key=True, autoincrement=False),
    Column("visitor_id", ID, nullable=False),
    Column("contact_identity_id", ID),
    Column("route_department_id", ID),
    Column("route_agent_id", ID),
    Column("started_at", BigInteger, nullable=False),
    Column("ended_at", BigInteger, nullable=False),
    Column("outcome", String(9)),
    Index(None, "site_id", "ended_at"),
)

handling_intervals = Table(
    "handling_intervals",
    metadata,
    _site(),
    Column("chat_id", ID, primary_key=True),
    Column("handling_no", Integer, primary_key=True, autoincrement=False),
    Column("agent_id", ID, nullable=False),
    Column("started_at", BigInteger, nullable=False),
    Column("ended_at", BigInteger, nullable=False),
    Index(None, "site_id", "agent_id", "ended_at"),
)

status_intervals = Table(
    "status_intervals",
    metadata,
    _site(),
    Column("agent_id", ID, primary_key=True),
    Column("status_no", Integer, primary_key=True, autoincrement=False),
    Column("status_id", ID, nullable=False),
    Column("started_at", BigInteger, nullable=False),
    Column("ended_at", BigInteger, nullable=False),
    Index(None, "site_id", "ended_at", "started_at", "status_id", "agent_id"),  # covering
    Index(  # covering: one agent's sums
        "ix_status_intervals_by_agent", "site_id", "agent_id", "ended_at", "started_at", "status_id"
    ),
)

agent_states = Table(
    "agent_states",
    metadata,
    _site(),
    Column("agent_id", ID, primary_key=True),
    Column("status_id", ID),
    Column("status_since", BigInteger),
    Column("status_no", Integer, nullable=False),
    Column("ongoing_chats", Integer, nullable=False),
    Column("busy_no", Integer, nullable=False),
    Column("busy_since", BigInteger),
    Column("handled_until", BigInteger, nullable=False),
)

busy_intervals = Table(
    "busy_intervals",
    metadata,
    _site(),
    Column("agent_id", ID, primary_key=True),
    Column("busy_no", Integer, primary_key=True, autoincrement=False),
    Column("started_at", BigInteger, nullable=False),
    Column("ended_at", BigInteger, nullable=False),
    Index(None, "site_id", "ended_at", "started_at", "agent_id"),  # covers Today's sum
    Index("ix_busy_intervals_by_agent", "site_id", "agent_id", "ended_at", "started_at"),
)

visitors = Table(
    "visitors",
    metadata,
    _site(),
    Column("visitor_id", ID, primary_key=True),
    Column("on_site", Boolean, nullable=False),
    Column("last_event_at", BigInteger, nullable=False),
    Column("contact_identity_id", ID),
    Index(None, "site_id", "on_site"),
)

invitations = Table(
    "invitations",
    metadata,
    _site(),
    Column("invitation_id", ID, primary_key=True),
    Column("visitor_id", ID, nullable=False),
    Column("agent_id", ID),
    Column("sent_at", BigInteger, nullable=False),
    Column("accepted_at", BigInteger),
    Column("last_event_at", BigInteger, nullable=False),
    Index(None, "site_id", "accepted_at"),
)

cohort_minutes = Table(
    "cohort_minutes",
    metadata,
    _site(),
    # "" sums every chat; a department id sums the chats of that cohort department.
    Column("department_key", String(36), primary_key=True),
    Column("minute", BigInteger, primary_key=True, autoincrement=False),
    *[Column(name, BigInteger, nullable=False) for name in COHORT_FIELDS],
    Column(LONGEST, BigInteger, nullable=False),  # a maximum, not a sum (domain/cohort.py)
)

# The same sums per quarter of an hour (minute // 15): a day's Today and Intervals read 96 rows
# of these and the minutes of the window's partial quarters, instead of 1,440 minutes.
cohort_quarters = Table(
    "cohort_quarters",
    metadata,
    _site(),
    Column("department_key", String(36), primary_key=True),
    Column("quarter", BigInteger, primary_key=True, autoincrement=False),
    *[Column(name, BigInteger, nullable=False) for name in COHORT_FIELDS],
    Column(LONGEST, BigInteger, nullable=False),
)

# `chat.missed` events (METRICS.md §7, Agents' missedChats), one row per event.
missed_offers = Table(
    "missed_offers",
    metadata,
    _site(),
    Column("event_id", ID, primary_key=True),
    Column("agent_id", ID, nullable=False),
    Column("chat_id", ID, nullable=False),
    Column("missed_at", BigInteger, nullable=False),
    Index(None, "site_id", "missed_at", "agent_id"),  # covering: counts per agent in a window
    Index(None, "site_id", "chat_id"),  # prune: a chat's
)

# Ended waits per minute of their end and route target ("" where a wait had none).
wait_minutes = Table(
    "wait_minutes",
    metadata,
    _site(),
    Column("minute", BigInteger, primary_key=True, autoincrement=False),  # the views' range
    Column("route_department_key", ID, primary_key=True),
    Column("route_agent_key", ID, primary_key=True),
    *[Column(name, BigInteger, nullable=False) for name in WAIT_FIELDS],
)

# Closed intervals' time per quarter of an hour: kind "b" busy time (status_key ""), kind "s"
# time in the status `status_key` (domain/rollups.py).
time_quarters = Table(
    "time_quarters",
    metadata,
    _site(),
    Column("kind", String(1), primary_key=True),
    Column("status_key", ID, primary_key=True),
    Column("quarter", BigInteger, primary_key=True, autoincrement=False),
    Column("micros", BigInteger, nullable=False),
)

# The last sequence whose batch changed what a department's views show (its chats and waits, its
# agents), per department; "~invitations" for the site's invitations (Today's
# acceptedInvitations ignores the department), "~visitors" for its visitors on site (RightNow's
# visitorOnSite). A department view's cached answer is keyed by these instead of the site's last
# sequence, so that an event in one department leaves the others' answers valid.
INVITATIONS_KEY = "~invitations"
VISITORS_KEY = "~visitors"
department_versions = Table(
    "department_versions",
    metadata,
    _site(),
    Column("department_key", ID, primary_key=True),
    Column("sequence", BigInteger, nullable=False),
)

# The live state summed, per site ("") and department (store/live_totals.py): the agents'
# figures, then the chats by state, then visitors on site (the site's row only).
AGENT_FIGURES = ("logged_in", "in_chat", "online_chats", "online_capacity")
LIVE_COLUMNS = (*AGENT_FIGURES, "bot_chats", "waiting_chats", "ongoing_chats", "visitors_on_site")
live_totals = Table(
    "live_totals",
    metadata,
    _site(),
    Column("department_key", ID, primary_key=True),
    *[Column(name, BigInteger, nullable=False) for name in LIVE_COLUMNS],
)


# Connectors (docs/connectors.md): a chat platform's webhooks mapped to events. The URL secret
# is stored only as its SHA-256; the platform's signing secret and API token are kept as given
# (a signature cannot be checked, nor an API called, with a hash).
connectors = Table(
    "connectors",
    metadata,
    Column("id", ID, primary_key=True),
    Column("site_id", Integer, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("name", String(200), nullable=False),
    Column("url_secret_hash", String(64), nullable=False),
    Column("signing_secret", String(400)),
    Column("api_url", String(400)),
    Column("api_token", String(400)),
    Column("account_id", String(100)),
    Column("poll_seconds", Integer, nullable=False),  # 0: no availability poll
    Column("reorder_ms", Integer, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("deleted_at", BigInteger),
    # The availability poll: which process holds it until when, and how the last one went.
    Column("poll_lease_until", BigInteger, nullable=False, default=0, server_default="0"),
    Column("last_poll_at", BigInteger),
    Column("last_poll_error", String(400)),
    Index(None, "site_id"),
)

# What a connector could not feed into the log (the newest per connector are kept).
connector_drops = Table(
    "connector_drops",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("site_id", Integer, nullable=False),
    Column("connector_id", ID, nullable=False),
    Column("recorded_at", BigInteger, nullable=False),
    Column("occurred_at", BigInteger),
    Column("delivery_id", String(200)),
    Column("fact_key", String(400)),
    Column("type", String(40)),
    Column("reason", String(400), nullable=False),
    Index(None, "site_id", "connector_id", "id"),
)


# Alerts (docs/alerts.md). A rule watches one numeric field of a view (or the site's silence);
# each subject it watches (the view, or one Queue row) has a state, whose every change is a
# transition; a transition is queued, in the same transaction, for each webhook that wants it.
alert_rules = Table(
    "alert_rules",
    metadata,
    Column("id", ID, primary_key=True),
    Column("site_id", Integer, nullable=False),
    Column("name", String(200), nullable=False),
    Column("kind", String(16), nullable=False),  # threshold | silence
    Column("view", String(16)),  # RightNow | Queue | Today (threshold rules)
    Column("field", String(64)),
    Column("department_id", ID),
    Column("comparison", String(2)),  # > >= < <=
    Column("warning", Float),
    Column("critical", Float),
    Column("hold_seconds", Integer, nullable=False),
    Column("clear_margin", Float, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("deleted_at", BigInteger),
    Index(None, "site_id"),
)

# One row per rule and subject that is not plainly ok: firing, or on its way (a hold running).
alert_states = Table(
    "alert_states",
    metadata,
    _site(),
    Column("rule_id", ID, primary_key=True),
    Column("subject", String(80), primary_key=True),  # "" or department:<id> / agent:<id>
    Column("state", String(8), nullable=False),  # ok | warning | critical
    Column("since", BigInteger, nullable=False),
    Column("value", Float),
    Column("warning_since", BigInteger),  # the warning condition holds since (hold time)
    Column("critical_since", BigInteger),
    Column("revision", Integer, nullable=False),  # compare-and-set between processes
)

alert_transitions = Table(
    "alert_transitions",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("site_id", Integer, nullable=False),
    Column("rule_id", ID, nullable=False),
    Column("subject", String(80), nullable=False),
    Column("from_state", String(8), nullable=False),
    Column("to_state", String(8), nullable=False),
    Column("value", Float),
    Column("threshold", Float),
    Column("at", BigInteger, nullable=False),
    Column("rule", Text, nullable=False),  # the rule as it was (JSON): history outlives edits
    Index(None, "site_id", "id"),
)

alert_webhooks = Table(
    "alert_webhooks",
    metadata,
    Column("id", ID, primary_key=True),
    Column("site_id", Integer, nullable=False),
    Column("name", String(200), nullable=False),
    Column("url", String(2000), nullable=False),
    Column("secret", String(200), nullable=False),  # kept as given: it signs every delivery
    Column("severities", String(40), nullable=False),  # comma list: warning,critical
    Column("created_at", BigInteger, nullable=False),
    Column("deleted_at", BigInteger),
    # Which process sends this endpoint's deliveries, until when (one at a time, in order).
    Column("lease_until", BigInteger, nullable=False, default=0, server_default="0"),
    Index(None, "site_id"),
)

# The outbox: one row per transition and webhook; its id is the delivery id receivers see.
alert_deliveries = Table(
    "alert_deliveries",
    metadata,
    Column("id", ID, primary_key=True),
    Column("site_id", Integer, nullable=False),
    Column("webhook_id", ID, nullable=False),
    Column("transition_id", BigInteger, nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("status", String(12), nullable=False),  # pending | delivered | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", BigInteger, nullable=False),
    Column("last_attempt_at", BigInteger),
    Column("last_status", Integer),
    Column("last_error", String(400)),
    Column("delivered_at", BigInteger),
    Index(None, "webhook_id", "status", "transition_id"),
    Index(None, "site_id", "webhook_id", "transition_id"),
    Index(None, "status", "next_attempt_at"),
)

# Leases between processes (the alert evaluator): one holder at a time, until a wall-clock time.
leases = Table(
    "leases",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("holder", String(80), nullable=False),
    Column("until", BigInteger, nullable=False),
    Column("evaluated_at", BigInteger),  # alerts: the clock of the last finished round
)


def agents_now() -> Any:
    """agents ⟕ agent_states ⟕ agent_statuses: each agent with its current status and type."""
    return agents.outerjoin(
        agent_states,
        and_(agent_states.c.site_id == agents.c.site_id, agent_states.c.agent_id == agents.c.id),
    ).outerjoin(
        agent_statuses,
        and_(
            agent_statuses.c.site_id == agents.c.site_id,
            agent_statuses.c.id == agent_states.c.status_id,
        ),
    )


PROJECTIONS = (
    chats,
    waits,
    handling_intervals,
    status_intervals,
    busy_intervals,
    agent_states,
    visitors,
    invitations,
    missed_offers,
    cohort_minutes,
    cohort_quarters,
    wait_minutes,
    time_quarters,
    live_totals,
)
