"""A local LiveChat Web API: the actions ChatPulse calls, over real HTTP, as LiveChat documents
them (https://platform.text.com/docs/management/configuration-api, .../messaging/agent-chat-api).

`POST /v<version>/configuration/action/list_agents`, `.../list_groups` and
`/v<version>/agent/action/list_routing_statuses`, with a Personal Access Token as Basic
authentication (Account ID as user, token as password). Anything else with the right token is
404; a wrong or missing token is 401 with LiveChat's error body. `delay` holds every answer
back, for time-outs. Use it as a context manager: `with FakeLiveChatApi() as api: api.url`.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "connectors" / "livechat"
ACCOUNT_ID = "d24fa41e-bc16-41b8-a15b-9ca45ff7e0cf"
TOKEN = "fra:Xk3mP0qLr8vT2wYz5nB7cD9eF1gH4jK6"
# Always in a list_agents answer; the others only when asked for in `fields`.
AGENT_DEFAULT_FIELDS = ("id", "account_id", "name", "role", "avatar_path", "login_status")
GROUP_DEFAULT_FIELDS = ("id", "name", "language_code")


def _fixture_body(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())["body"]


def _error(kind: str, message: str) -> dict[str, Any]:
    return {"error": {"type": kind, "message": message}}


class FakeLiveChatApi:
    """LiveChat's API for one license, on 127.0.0.1 and a free port."""

    def __init__(
        self,
        *,
        account_id: str = ACCOUNT_ID,
        token: str = TOKEN,
        version: str = "3.6",
        agents: list[dict[str, Any]] | None = None,
        groups: list[dict[str, Any]] | None = None,
        routing_statuses: list[dict[str, Any]] | None = None,
        delay: float = 0.0,
    ) -> None:
        basic = base64.b64encode(f"{account_id}:{token}".encode()).decode()
        self.authorization = f"Basic {basic}"
        self.version = version
        self.agents = agents if agents is not None else _fixture_body("api_list_agents")
        self.groups = groups if groups is not None else _fixture_body("api_list_groups")
        self.routing_statuses = (
            routing_statuses
            if routing_statuses is not None
            else _fixture_body("api_list_routing_statuses")
        )
        self.delay = delay
        self.requests: list[tuple[str, Any]] = []  # (path, JSON body) of each request
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "the fake is not running"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def answer(self, path: str, authorization: str | None, body: Any) -> tuple[int, Any]:
        """The status and JSON body LiveChat gives for this request."""
        self.requests.append((path, body))
        if authorization != self.authorization:
            return 401, _error("authentication", "Invalid access token")
        if not isinstance(body, dict):
            return 400, _error("validation", "Wrong format of request")
        actions = {
            f"/v{self.version}/configuration/action/list_agents": self._list_agents,
            f"/v{self.version}/configuration/action/list_groups": self._list_groups,
            f"/v{self.version}/agent/action/list_routing_statuses": self._list_routing_statuses,
        }
        action = actions.get(path)
        if action is None:
            return 404, _error("not_found", "Method not found")
        return 200, action(body)

    def _list_agents(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        fields = (*AGENT_DEFAULT_FIELDS, *body.get("fields", ()))
        groups = set(body.get("filters", {}).get("group_ids", ()))
        return [
            {name: agent[name] for name in fields if name in agent}
            for agent in self.agents
            if not groups or groups & {group["id"] for group in agent.get("groups", ())}
        ]

    def _list_groups(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        fields = (*GROUP_DEFAULT_FIELDS, *body.get("fields", ()))
        return [{name: group[name] for name in fields if name in group} for group in self.groups]

    def _list_routing_statuses(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        return list(self.routing_statuses)

    def __enter__(self) -> FakeLiveChatApi:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = None
                status, answer = fake.answer(self.path, self.headers.get("Authorization"), body)
                if fake.delay:
                    time.sleep(fake.delay)
                data = json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up waiting (a time-out test)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
        self._server = self._thread = None
