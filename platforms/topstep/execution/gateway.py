"""The HTTP side of the TopstepX (ProjectX) gateway: token login, one POST, the failure kinds.

Every call is ``POST <base>/api/<Area>/<verb>`` with a JSON body and a bearer token; the answer
carries ``success``/``errorCode``/``errorMessage``. Failures come in three kinds the adapter
treats differently:

- :class:`TransportError`: timeout, dropped connection, HTTP 429 or 5xx: the request's fate is
  unknown (an order may have been accepted), so an order is looked up before anything else;
- :class:`GatewayError`: the gateway answered and refused (``success`` false, or HTTP 4xx);
- a 401 logs in again once (tokens last 24 h); a second 401 is a GatewayError.

Request and answer bodies are never put into errors: the login body carries the API key.
"""

from __future__ import annotations

import os
from typing import Any

import requests

from platforms.topstep.execution.credentials import Credentials

__all__ = ["ENV_TIMEOUT", "Gateway", "GatewayError", "TransportError"]

ENV_TIMEOUT = "TOPSTEP_TIMEOUT_S"
DEFAULT_TIMEOUT_S = 10.0


class TransportError(RuntimeError):
    """The gateway could not be asked, or its answer was lost; the text names the cause."""


class GatewayError(RuntimeError):
    """The gateway answered and refused; ``code`` is its errorCode (or the HTTP status)."""

    def __init__(self, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.code = code


def timeout_s() -> float:
    raw = os.environ.get(ENV_TIMEOUT, "").strip()
    try:
        return float(raw) if raw else DEFAULT_TIMEOUT_S
    except ValueError:
        return DEFAULT_TIMEOUT_S


class Gateway:
    """One logged-in session against one API base."""

    def __init__(self, base: str, creds: Credentials, session: Any = None) -> None:
        self.base = base
        self._creds = creds
        self._session = session or requests.Session()
        self._token: str | None = None
        self.timeout = timeout_s()

    def _raw(self, path: str, body: dict[str, Any], auth: bool) -> requests.Response:
        headers = {"Content-Type": "application/json", "accept": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self._token}"
        try:
            resp = self._session.post(
                self.base + path, json=body, headers=headers, timeout=self.timeout
            )
        except requests.Timeout:
            raise TransportError(f"{path}: timed out after {self.timeout:g}s") from None
        except requests.RequestException as exc:
            raise TransportError(f"{path}: {type(exc).__name__} (connection lost)") from None
        if resp.status_code == 429 or resp.status_code >= 500:
            raise TransportError(f"{path}: HTTP {resp.status_code}")
        return resp

    def login(self) -> None:
        """``loginKey``: the session token (never printed)."""
        body = {"userName": self._creds.user, "apiKey": self._creds.secret}
        resp = self._raw("/api/Auth/loginKey", body, auth=False)
        if resp.status_code >= 400:  # no body text: an echo of the request would carry the key
            raise GatewayError(f"TopStep login refused: HTTP {resp.status_code}", resp.status_code)
        answer = _json(resp, "/api/Auth/loginKey")
        if not answer.get("success") or not answer.get("token"):
            raise GatewayError(
                "TopStep login refused: check TOPSTEP_API_KEY (user name) and "
                f"TOPSTEP_API_SECRET (API key) (errorCode {answer.get('errorCode')})",
                int(answer.get("errorCode") or 0),
            )
        self._token = str(answer["token"])

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """One call; the answer when ``success`` is true, else :class:`GatewayError`."""
        if self._token is None:
            self.login()
        resp = self._raw(path, body, auth=True)
        if resp.status_code == 401:
            self.login()
            resp = self._raw(path, body, auth=True)
            if resp.status_code == 401:
                raise GatewayError(f"{path}: HTTP 401 after a fresh login", 401)
        answer = _json(resp, path)
        if not answer.get("success", False):
            msg = str(answer.get("errorMessage") or "refused")[:200]
            raise GatewayError(f"{path}: {msg}", int(answer.get("errorCode") or 0))
        return answer


def _json(resp: requests.Response, path: str) -> dict[str, Any]:
    if resp.status_code >= 400:
        raise GatewayError(f"{path}: HTTP {resp.status_code} {resp.text[:120]}", resp.status_code)
    try:
        answer = resp.json()
    except ValueError:
        raise GatewayError(f"{path}: the answer is not JSON") from None
    if not isinstance(answer, dict):
        raise GatewayError(f"{path}: unexpected answer shape")
    return answer
