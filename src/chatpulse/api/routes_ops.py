"""Liveness and readiness (SPEC.md §6)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from chatpulse.api.openapi import problems
from chatpulse.api.problems import problem
from chatpulse.api.responses import Json
from chatpulse.api.schemas import StatusAnswer
from chatpulse.domain.errors import FieldError

router = APIRouter(tags=["Operations"])


@router.get("/healthz", response_model=StatusAnswer, summary="The process serves")
async def healthz() -> Any:
    return Json({"status": "ok"})


async def _fast_healthz(request: Request) -> Response:
    return Json({"status": "ok"})


# On the same path as the views (api/fast_paths.py): the ceiling they are measured against.
FAST = {"/healthz": _fast_healthz}


@router.get(
    "/readyz",
    response_model=StatusAnswer,
    summary="The database answers and its schema is current",
    responses=problems(503),
)
def readyz(request: Request) -> Any:
    state = request.app.state.runtime.readiness()
    if state == "unreachable":
        return problem(503, "the database does not answer", [FieldError("database", "unreachable")])
    if state == "behind":
        return problem(
            503,
            "the database schema is not current",
            [FieldError("database", "run chatpulse migrate")],
        )
    return Json({"status": "ready"})
