"""The daemon's local HTTP API, as the bridge calls it: the dashboard's endpoints with the
status token (supervisor/http/routes.py). POSTs carry the same-origin ``Origin`` the guard
demands. A daemon that is down or starting is a :class:`DaemonDown`, which the bridge answers
with a one-line reply; it never retries an action (a close must not run twice)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

import requests

TIMEOUT_S = 60.0  # a trade action runs the manual core (an order on the venue) before answering


class DaemonDown(Exception):
    """The daemon did not answer (stopped, restarting, or still starting)."""


class DaemonAPI:
    def __init__(self, base: str, token: str, session: requests.Session | None = None) -> None:
        self.base = base.rstrip("/")
        self.origin = "{0.scheme}://{0.netloc}".format(urlsplit(self.base))
        self.http = session or requests.Session()
        self.http.trust_env = False  # never through a proxy: the API is on the loopback
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, path: str, **query: Any) -> tuple[int, Any]:
        return self._call("GET", path, params={k: v for k, v in query.items() if v is not None})

    def post(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        return self._call("POST", path, json=body, headers={"Origin": self.origin})

    def _call(
        self, method: str, path: str, headers: dict[str, Any] | None = None, **kw: Any
    ) -> tuple[int, Any]:
        try:
            r = self.http.request(
                method,
                self.base + path,
                headers={**self.headers, **(headers or {})},
                timeout=TIMEOUT_S,
                **kw,
            )
        except requests.RequestException as exc:
            raise DaemonDown(f"the daemon's API at {self.base} did not answer") from exc
        if r.status_code == 401:
            raise DaemonDown("the daemon refused the token (STATUS_AUTH_TOKEN / status_token)")
        try:
            body = r.json()
        except ValueError:
            body = {"error": r.text[:200]}
        if r.status_code == 503 and isinstance(body, dict) and body.get("status") == "starting":
            raise DaemonDown("the daemon is starting; try again in a moment")
        return r.status_code, body

    def strategy_path(self, sid: str, action: str) -> str:
        return f"/api/strategies/{quote(sid, safe='')}/{action}"
