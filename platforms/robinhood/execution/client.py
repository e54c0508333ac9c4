"""A small ``requests`` client of Robinhood's crypto endpoints (the ones robin_stocks calls).

Why our own client rather than robin_stocks: robin_stocks hard-codes the robinhood.com hosts
(so it cannot talk to the local venue through ``ROBINHOOD_BASE_URL``), keeps its session in
module globals, pickles tokens under the home directory and prints to stdout, which would break
the one-JSON-document worker contract. The endpoints and fields are the same.

One login per client (a fresh TOTP code; upstream logged in per submit too, hence Robinhood's
150 s close budget). The bearer token lives in this object only: never written, never logged.
Failures are one of two kinds: :class:`TransportError` (timeout, dropped connection, HTTP 5xx
or 429: a POST's fate is unknown) and :class:`VenueRefused` (any other 4xx, with the venue's
own words). No error text carries a request body, a header or a token.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from platforms.robinhood.execution import totp
from platforms.robinhood.execution.credentials import Login

__all__ = ["RobinhoodClient", "TransportError", "VenueRefused"]

TIMEOUT_S = 10.0
# The public OAuth client id of Robinhood's own web app (not a secret: every login sends it).
CLIENT_ID = "c82SH0WZOsabOXGP2sxqcj34FxkvfnWRZBKlBjFS"
MAX_PAGES = 5
DEVICE_NAMESPACE = uuid.UUID("0c5f3f4e-8d2b-4a61-9f0e-6a7d2b1c9e84")  # ours; fixed forever


class TransportError(RuntimeError):
    """The venue could not be asked, or its answer was lost; a POST may have taken effect."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class VenueRefused(RuntimeError):
    """The venue answered and refused (HTTP 4xx other than 429), with its own words."""

    def __init__(self, message: str, status: int, detail: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail


def _detail(resp: Any) -> str:
    """The venue's reason from an error answer (``detail``, ``error`` or the text), one line."""
    try:
        body = resp.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        for key in ("detail", "error", "non_field_errors", "message"):
            if body.get(key):
                value = body[key]
                text = value[0] if isinstance(value, list) and value else value
                return " ".join(str(text).split())[:200]
        return " ".join(json.dumps(body).split())[:200]
    return " ".join(str(getattr(resp, "text", "")).split())[:200]


class RobinhoodClient:
    """One logged-in session against an API host and a crypto host."""

    def __init__(
        self,
        login: Login,
        api: str,
        nummus: str,
        *,
        timeout: float = TIMEOUT_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        import requests

        self._login = login
        self.api = api
        self.nummus = nummus
        self.timeout = timeout
        self.clock = clock
        self._session = requests.Session()
        self._token: str | None = None
        # One device per username, the same in every worker (Robinhood asks a new device to be
        # verified in its app); derived, never stored.
        self._device = str(uuid.uuid5(DEVICE_NAMESPACE, login.username.lower()))

    def __repr__(self) -> str:
        return f"<RobinhoodClient {self.api} logged_in={self._token is not None}>"

    # ---- transport ----------------------------------------------------------------------
    def _send(
        self, method: str, url: str, body: dict[str, Any] | None, params: dict[str, Any] | None
    ) -> Any:
        import requests

        headers = {"Accept": "application/json"}
        if self._token is not None:
            headers["Authorization"] = f"Bearer {self._token}"
        where = url.split("?")[0]
        try:
            resp = self._session.request(
                method, url, json=body, params=params, headers=headers, timeout=self.timeout
            )
        except requests.Timeout:
            raise TransportError(f"{method} {where}: timed out after {self.timeout:g}s") from None
        except requests.RequestException as exc:
            raise TransportError(f"{method} {where}: {type(exc).__name__}") from None
        if resp.status_code == 429 or resp.status_code >= 500:
            raise TransportError(
                f"{method} {where}: HTTP {resp.status_code}: {_detail(resp)}", resp.status_code
            )
        if resp.status_code >= 400:
            detail = _detail(resp)
            raise VenueRefused(
                f"{method} {where}: HTTP {resp.status_code}: {detail}", resp.status_code, detail
            )
        try:
            return resp.json()
        except ValueError:
            raise TransportError(f"{method} {where}: the answer was not JSON") from None

    def _authed(self) -> None:
        if self._token is None:
            self.authenticate()

    def authenticate(self) -> None:
        """Log in with the password and a fresh TOTP code; keeps the bearer token in memory."""
        body = {
            "client_id": CLIENT_ID,
            "grant_type": "password",
            "scope": "internal",
            "expires_in": 86400,
            "device_token": self._device,
            "username": self._login.username,
            "password": self._login.password,
            "mfa_code": totp.code(self._login.totp_secret, self.clock()),
        }
        try:
            answer = self._send("POST", f"{self.api}/oauth2/token/", body, None)
        except VenueRefused as exc:
            raise VenueRefused(
                f"Robinhood refused the login (check ROBINHOOD_USERNAME, ROBINHOOD_PASSWORD and "
                f"ROBINHOOD_TOTP_SECRET): {exc.detail or 'HTTP ' + str(exc.status)}",
                exc.status,
                exc.detail,
            ) from None
        token = answer.get("access_token") if isinstance(answer, dict) else None
        if not token and isinstance(answer, dict) and answer.get("verification_workflow"):
            raise VenueRefused(
                "Robinhood asks to verify this device: approve the login in the Robinhood app, "
                "then run again",
                200,
            )
        if not token:
            raise VenueRefused("Robinhood's login answer carried no access token", 200)
        self._token = str(token)

    def get(self, url: str, params: dict[str, Any] | None = None) -> Any:
        self._authed()
        return self._send("GET", url, None, params)

    def post(self, url: str, body: dict[str, Any]) -> Any:
        self._authed()
        return self._send("POST", url, body, None)

    def pages(
        self, url: str, params: dict[str, Any] | None = None, max_pages: int = MAX_PAGES
    ) -> list[Any]:
        """Every ``results`` row of a paged listing (``next`` links), at most ``max_pages``."""
        rows: list[Any] = []
        next_url: str | None = url
        for _ in range(max_pages):
            if not next_url:
                break
            answer = self.get(next_url, params if next_url == url else None)
            if not isinstance(answer, dict) or not isinstance(answer.get("results"), list):
                raise TransportError(f"GET {url.split('?')[0]}: an answer without results")
            rows.extend(answer["results"])
            next_url = answer.get("next") or None
        return rows
