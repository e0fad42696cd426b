"""The daily curves of the simulated traffic: visitor arrivals and staffing by local hour."""

from __future__ import annotations

import datetime as dt

from chatpulse.domain.timeutil import from_micros

# Share of the peak arrival rate at each local hour (0…23); interpolated linearly in between.
ARRIVALS = (
    0.20, 0.15, 0.12, 0.10, 0.10, 0.12, 0.20, 0.35, 0.60, 0.85, 1.00, 1.00,
    0.85, 0.90, 1.00, 0.95, 0.85, 0.70, 0.55, 0.45, 0.40, 0.35, 0.30, 0.25,
)  # fmt: skip


def local_hour(micros: int, zone: dt.tzinfo) -> float:
    """The local time of day in hours (0 ≤ h < 24)."""
    moment = from_micros(micros).astimezone(zone)
    return moment.hour + moment.minute / 60 + moment.second / 3600


def arrival_share(hour: float) -> float:
    """The arrival rate at local `hour`, as a share of the peak (0 < share ≤ 1)."""
    low = int(hour) % 24
    high = (low + 1) % 24
    part = hour - int(hour)
    return ARRIVALS[low] + (ARRIVALS[high] - ARRIVALS[low]) * part


def staffing_share(hour: float) -> float:
    """The share of the agents on shift at local `hour`: follows arrivals, never below 15 %."""
    return 0.15 + 0.65 * arrival_share(hour)
