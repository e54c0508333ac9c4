"""The chat commands built in issue 24's second pass (chat_bridge/structural.py, github.py):
add-strategy, remove-strategy, paper-to-live, apply-regime-gate, clear-cash-reconcile through
the daemon's confirmed actions (a fake daemon API speaking the structural-actions contract, and
for clear-cash-reconcile the daemon's real POST handler), and report-an-issue against a fake
GitHub on 127.0.0.1. The fake Discord and Telegram servers are tests/chat_fakes.py's."""

from __future__ import annotations

import json
import re
import threading
import time
import types
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import test_chat_bridge as base
from test_chat_bridge import OTHER, OWNER, Clock, slash, texts, wait

from chat_bridge import github, structural
from chat_bridge.core import CANCELLED, EXPIRED, Access, Bridge, Invocation
from chat_bridge.github import ReportSettings

dc, tg = base.dc, base.tg  # the fake Discord / Telegram fixtures

GATE_ALSO = ["hl-mom-ETH"]
NEW = ("add-strategy", "remove-strategy", "paper-to-live", "apply-regime-gate")


class StructuralAPI(base.FakeAPI):
    """The daemon's side of the structural-actions contract, as small as the tests need."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        super().__init__(clock)
        self.rows = [
            {"id": "alpha", "type": "spot"},
            {"id": "hl-sma-BTC", "type": "perps"},
            {"id": "hl-mom-ETH", "type": "perps"},
        ]
        self.holding: set[str] = set()
        self.confirms: list[dict] = []

    def get(self, path: str, **_q: Any) -> tuple[int, Any]:
        if path == "/api/strategies":
            return 200, {"strategies": self.rows}
        return super().get(path)

    def _refuse(self, action: str, sid: str, p: dict) -> tuple[int, str] | None:
        ids = {r["id"] for r in self.rows}
        if action == "add-strategy":
            if p["name"] not in ("sma", "momentum") or p["platform"] not in (
                "hyperliquid",
                "binanceus",
            ):
                return 400, f"unknown name or platform {p['name']}/{p['platform']}"
            if not re.fullmatch(r"[A-Z0-9]+", p["asset"]):
                return 400, "asset must match [A-Z0-9]+"
            return None
        if sid not in ids:
            return 404, f"unknown strategy {sid!r}"
        if action == "remove-strategy" and len(ids) == 1:
            return 409, "cannot remove the last strategy"
        if action in ("paper-to-live", "apply-regime-gate") and sid in self.holding:
            return 409, f"{sid} holds a position; close it first"
        kind = next(r["type"] for r in self.rows if r["id"] == sid)
        if action == "apply-regime-gate" and kind not in ("perps", "futures"):
            return 409, f"{sid} is {kind}: the gate needs perps or futures"
        return None

    def post(self, path: str, body: dict) -> tuple[int, Any]:
        action = body.get("action")
        if path == "/api/confirm" and action in structural.STRUCTURAL:
            self.confirms.append(body)
            sid, p = body["strategy_id"], body["params"]
            why = self._refuse(action, sid, p)
            if why:
                return why[0], {"error": why[1]}
            pinned = {**p, "also": GATE_ALSO} if action == "apply-regime-gate" else p
            nonce, ttl = self.nonces.issue(action, sid, pinned)
            phrase = sid
            if action == "add-strategy":
                prefix = "hl-" if p["platform"] == "hyperliquid" else ""
                phrase = f"{prefix}{p['name']}-{p['asset']}"
            out = {
                "nonce": nonce,
                "expires_in_seconds": ttl,
                "confirm_phrase": phrase,
                "description": f"{action} {phrase}",
            }
            if action == "apply-regime-gate":
                out["also_activated"] = GATE_ALSO
            return 200, out
        if path == "/api/config/add-strategy":
            return self._run("add-strategy", "", path, body)
        parts = path.split("/")
        if len(parts) == 5 and parts[4] in structural.STRUCTURAL:
            return self._run(parts[4], parts[3], path, body)
        return super().post(path, body)

    def _run(self, action: str, sid: str, path: str, body: dict) -> tuple[int, Any]:
        p = body.get("params") or {}
        pinned = {**p, "also": GATE_ALSO} if action == "apply-regime-gate" else p
        if not self.nonces.take(body.get("nonce"), action, sid, pinned):
            return 403, {"ok": False, "error": "confirmation missing, used or expired"}
        self.actions.append((path, body))
        msg = f"{action} {sid or p.get('name')} written; restarting"
        return 200, {"ok": True, "message": msg, "id": sid, "restarting": bool(p.get("restart"))}


def make(tmp_path: Path, clock: Any = time.monotonic, **kw: Any) -> Bridge:
    cfg = tmp_path / "config.json"
    cfg.write_text("{}")
    access = {"discord": Access(OWNER), "telegram": Access(OWNER)}
    return Bridge(StructuralAPI(clock), access, cfg, clock=clock, **kw)


def inv(cmd: str, user: str = OWNER, dm: bool = True, **opts: Any) -> Invocation:
    return Invocation("discord", cmd, opts, user=user, in_dm=dm, channel="c1")


ASKS = {
    "add-strategy": (
        {"name": "sma", "platform": "hyperliquid", "asset": "btc"},
        "/api/config/add-strategy",
        {"name": "sma", "platform": "hyperliquid", "asset": "BTC", "restart": True},
    ),
    "remove-strategy": (
        {"id": "alpha"},
        "/api/strategies/alpha/remove-strategy",
        {"restart": True},
    ),
    "paper-to-live": (
        {"strategy": "hl-sma-BTC"},
        "/api/strategies/hl-sma-BTC/paper-to-live",
        {"restart": True},
    ),
    "apply-regime-gate": (
        {"strategy": "hl-sma-BTC"},
        "/api/strategies/hl-sma-BTC/apply-regime-gate",
        {"gate": "comp_up_clean_p21", "restart": True},
    ),
}


# -- the structural commands ---------------------------------------------------------------------
@pytest.mark.parametrize("name", NEW)
def test_each_structural_command_confirms_then_calls_the_api_once(tmp_path, name):
    b = make(tmp_path)
    opts, path, params = ASKS[name]
    ask = b.run(inv(name, **opts))
    assert ask.confirm and not ask.refused and b.api.actions == []  # nothing before the press
    assert b.api.confirms[-1]["params"] == params  # restart: true from chat
    prompt = ask.messages[0]
    assert prompt.startswith("⚠️ Confirm: ") and "then the daemon restarts" in prompt
    if name == "add-strategy":
        assert "hl-sma-BTC" in prompt  # the generated id
    if name == "apply-regime-gate":
        assert "also activates: hl-mom-ETH" in prompt  # the blast radius
    done = b.resolve(ask.confirm, OWNER, True)
    assert done.startswith("✅ ") and "restarting" in done
    assert b.resolve(ask.confirm, OWNER, True) == EXPIRED  # a second press: nothing
    assert b.api.actions == [(path, {"nonce": b.api.actions[0][1]["nonce"], "params": params})]


@pytest.mark.parametrize("name", NEW)
def test_cancel_expiry_and_strangers_do_nothing(tmp_path, name):
    clock = Clock()
    b = make(tmp_path, clock)
    opts = ASKS[name][0]
    refused = b.run(inv(name, user=OTHER, **opts))
    assert refused.refused and refused.messages == ["This command is restricted to the bot owner."]
    assert b.run(inv(name, dm=False, **opts)).messages == [
        "This command only works in a DM with the bot."
    ]
    assert b.api.confirms == []  # the daemon was not even asked
    cancel = b.run(inv(name, **opts))
    assert b.resolve(cancel.confirm, OTHER, True) == "This confirmation belongs to someone else."
    assert b.resolve(cancel.confirm, OWNER, False) == CANCELLED
    late = b.run(inv(name, **opts))
    clock.t += 61
    assert b.resolve(late.confirm, OWNER, True) == EXPIRED
    assert b.api.actions == []


def test_the_daemons_refusals_are_one_line_and_ask_nothing(tmp_path):
    b = make(tmp_path)
    b.api.holding.add("hl-sma-BTC")
    out = b.run(inv("paper-to-live", strategy="hl-sma-BTC"))
    assert out.refused and out.confirm is None
    assert out.messages == ["Refused: hl-sma-BTC holds a position; close it first"]
    assert b.run(inv("apply-regime-gate", strategy="alpha")).messages == [
        "Refused: alpha is spot: the gate needs perps or futures"
    ]
    assert b.run(inv("remove-strategy", id="nope")).messages == ["Refused: unknown strategy 'nope'"]
    bad = b.run(inv("add-strategy", name="sma", platform="hyperliquid", asset="BT-C"))
    assert bad.messages == ["Refused: asset must match [A-Z0-9]+"]
    assert b.run(inv("add-strategy", name="sma")).refused  # usage, before the daemon
    assert b.api.actions == []


def test_apply_regime_gate_without_a_strategy_lists_the_eligible_ones(tmp_path):
    """Upstream DMs a numbered list and waits for a number; here the list says how to ask."""
    b = make(tmp_path)
    out = b.run(inv("apply-regime-gate"))
    assert out.confirm is None and b.api.confirms == []
    lines = out.messages[0].splitlines()
    assert lines[:3] == [
        "Strategies the comp_up_clean_p21 gate can apply to:",
        "1. hl-sma-BTC",
        "2. hl-mom-ETH",
    ]
    assert "strategy:<id>" in lines[3] and "alpha" not in out.messages[0]


def test_structural_commands_over_discord(tmp_path, dc):
    b = make(tmp_path)
    dserver, dstart = dc
    dstart(b)
    slash(dserver, "50", "apply-regime-gate", OWNER, strategy="hl-sma-BTC")
    wait(lambda: dserver.of("POST", r"/interactions/50/"))
    data = dserver.of("POST", r"/interactions/50/")[0][1]["data"]
    assert "also activates: hl-mom-ETH" in data["content"]
    custom = data["components"][0]["components"][0]["custom_id"]
    slash(dserver, "51", "remove-strategy", OTHER, guild=True, id="alpha")
    wait(lambda: dserver.of("POST", r"/interactions/51/"))
    assert (
        "restricted to the bot owner"
        in dserver.of("POST", r"/interactions/51/")[0][1]["data"]["content"]
    )
    press = {"id": "52", "token": "t52", "type": 3, "channel_id": "chan", "user": {"id": OWNER}}
    dserver.gateway.dispatch("INTERACTION_CREATE", {**press, "data": {"custom_id": custom}})
    wait(lambda: dserver.of("POST", r"/interactions/52/"))
    assert dserver.of("POST", r"/interactions/52/")[0][1]["data"]["content"].startswith("✅ ")
    assert len(b.api.actions) == 1


def test_structural_commands_over_telegram(tmp_path, tg):
    """The same commands, ``_`` for ``-``, positional options."""
    b = make(tmp_path)
    tserver, tstart = tg
    tstart(b)
    tserver.command("/add_strategy sma binanceus eth", int(OWNER))
    tserver.command("/paper_to_live hl-sma-BTC", int(OTHER))
    wait(lambda: len(tserver.sent()) == 2)
    prompt, refused = tserver.sent()
    assert "sma-ETH" in prompt["text"] and refused["text"].endswith("restricted to the bot owner.")
    tserver.press(prompt["reply_markup"]["inline_keyboard"][0][1]["callback_data"], int(OWNER))
    wait(lambda: len(tserver.sent()) == 3)
    assert texts(tserver)[2] == CANCELLED and b.api.actions == []
    tserver.command("/add_strategy sma binanceus eth", int(OWNER))
    wait(lambda: len(tserver.sent()) == 4)
    tserver.press(tserver.sent()[3]["reply_markup"]["inline_keyboard"][0][0]["callback_data"], 42)
    wait(lambda: len(tserver.sent()) == 5)
    assert texts(tserver)[4].startswith("✅ add-strategy sma") and len(b.api.actions) == 1
    assert b.api.actions[0][0] == "/api/config/add-strategy"


# -- clear-cash-reconcile: the bridge against the daemon's real POST handler ---------------------
class ActionsAPI:
    """The daemon's POST handler (supervisor/http/post.py) called in-process."""

    def __init__(self, actions: Any) -> None:
        self.actions = actions

    def strategy_path(self, sid: str, action: str) -> str:
        return f"/api/strategies/{sid}/{action}"

    def get(self, path: str, **_q: Any) -> tuple[int, Any]:
        return 404, {"error": "no"}

    def post(self, path: str, body: dict) -> tuple[int, Any]:
        return self.actions.post(path, json.loads(json.dumps(body)))


def test_clear_cash_reconcile_from_chat_writes_the_clis_request_once(tmp_path):
    from conftest import fake_strategy, write_config

    from shared_tools.config.load import load_config
    from supervisor.http.post import Actions
    from supervisor.ops.cash_reconcile import KEY, apply_requests, request_path
    from supervisor.state.models import AppState

    cfg = write_config(tmp_path, [fake_strategy("alpha", "flip"), fake_strategy("beta", "flip")])
    config = load_config(cfg)
    app = AppState()
    app.extra[KEY] = {"alpha": {"reason": "a buy debited more than the cash"}}
    sup = types.SimpleNamespace(
        config=config, ready=True, db=object(), book_lock=threading.RLock(), app=app
    )
    access = {"discord": Access(OWNER)}
    b = Bridge(ActionsAPI(Actions(sup, board=None)), access, Path(cfg))
    assert b.run(inv("clear-cash-reconcile", strategy="beta")).messages == [
        "Refused: beta has no cash reconcile latch; nothing to clear"
    ]
    assert b.run(inv("clear-cash-reconcile", strategy="nope")).messages == [
        "Refused: unknown strategy 'nope'"
    ]
    assert b.run(inv("clear-cash-reconcile", user=OTHER, strategy="alpha")).refused
    cancel = b.run(inv("clear-cash-reconcile", strategy="alpha"))
    assert b.resolve(cancel.confirm, OWNER, False) == CANCELLED
    ask = b.run(inv("clear-cash-reconcile", strategy="alpha"))
    assert "clear the cash reconcile latch of alpha (its cash stays as it is)" in ask.messages[0]
    path = request_path(config.db_file)
    assert not path.exists()  # nothing before the press
    assert b.resolve(ask.confirm, OWNER, True).startswith("✅ alpha: latch clear requested")
    assert b.resolve(ask.confirm, OWNER, True) == EXPIRED
    assert path.read_text() == "alpha\n"  # once
    assert apply_requests(app, config.db_file) == ["alpha"] and KEY not in app.extra
    # the daemon's endpoint alone: a spent or foreign nonce is 403
    actions = b.api.actions
    app.extra[KEY] = {"alpha": {}}
    c = actions.post(
        "/api/confirm", {"action": "clear-cash-reconcile", "strategy_id": "alpha", "params": {}}
    )[1]
    run = {"nonce": c["nonce"], "params": {}}
    assert actions.post("/api/strategies/beta/clear-cash-reconcile", run)[0] == 403
    assert actions.post("/api/strategies/alpha/clear-cash-reconcile", run)[0] == 403  # spent


# -- report-an-issue ----------------------------------------------------------------------------
class FakeGitHub:
    """``POST /repos/{owner}/{repo}/issues`` on 127.0.0.1, answering what the test sets."""

    def __init__(self) -> None:
        owner = self
        self.calls: list[tuple[str, dict, dict]] = []
        self.answer: tuple[int, dict] = (201, {})

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                owner.calls.append((self.path, dict(self.headers), json.loads(self.rfile.read(n))))
                code, doc = owner.answer
                data = json.dumps(doc).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_a: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def gh(monkeypatch) -> Any:
    server = FakeGitHub()
    monkeypatch.setenv(github.API_ENV, server.url)
    for name in github.TOKEN_ENVS:
        monkeypatch.delenv(name, raising=False)
    yield server
    server.close()


def report(b: Bridge, user: str = OWNER, **opts: Any) -> str:
    out = b.run(inv("report-an-issue", user=user, **opts))
    return out.messages[0]


def test_report_an_issue_files_it_and_answers_the_url(tmp_path, gh, monkeypatch):
    b = make(tmp_path, report=ReportSettings("me/bot", "cfg-token"))
    url = "https://github.com/me/bot/issues/7"
    gh.answer = (201, {"html_url": url, "number": 7})
    assert (
        report(b, title="Stuck", body="the bot is stuck", label="bug") == f"✅ Issue filed: {url}"
    )
    path, headers, doc = gh.calls[0]
    assert path == "/repos/me/bot/issues"
    assert doc == {"title": "Stuck", "body": "the bot is stuck", "labels": ["bug"]}
    assert headers["Authorization"] == "Bearer cfg-token"  # the config's, without the env's
    monkeypatch.setenv("GITHUB_TOKEN", "gh-token")
    report(b, title="t", body="b")
    assert gh.calls[1][1]["Authorization"] == "Bearer gh-token" and "labels" not in gh.calls[1][2]
    monkeypatch.setenv("GO_TRADER_GITHUB_TOKEN", "gt-token")
    report(b, title="t", body="b")
    assert gh.calls[2][1]["Authorization"] == "Bearer gt-token"
    # someone else: refused, nothing filed
    assert report(b, user=OTHER, title="t", body="b").endswith("restricted to the bot owner.")
    assert len(gh.calls) == 3


def test_report_an_issue_errors_are_one_line(tmp_path, gh, monkeypatch):
    b = make(tmp_path, report=ReportSettings("me/bot", "tok"))
    cases = {
        401: "GitHub refused the token (401)",
        404: "GitHub does not know the repository me/bot (404)",
        422: "GitHub refused the issue (422): Validation Failed; labels invalid nope",
    }
    for code, start in cases.items():
        doc = {"message": "Validation Failed" if code == 422 else "Bad credentials"}
        if code == 422:
            doc["errors"] = [{"field": "labels", "code": "invalid", "value": "nope"}]
        gh.answer = (code, doc)
        text = report(b, title="t", body="b", label="nope")
        assert text.startswith(start) and "\n" not in text, text
    assert len(gh.calls) == 3
    # no repository: the key to set (no default repository in this port); nothing is sent
    unset = make(tmp_path, report=ReportSettings("", "tok"))
    assert report(unset, title="t", body="b") == (
        "discord.report_repo is not set: set it to owner/name (the repository for reports)."
    )
    notoken = make(tmp_path, report=ReportSettings("me/bot", ""))
    assert report(notoken, title="t", body="b").startswith("No GitHub token: set GO_TRADER")
    assert len(gh.calls) == 3
    # GitHub down: one line, nothing filed
    monkeypatch.setenv(github.API_ENV, "http://127.0.0.1:9")
    assert report(b, title="t", body="b").startswith("GitHub did not answer (")
    monkeypatch.setenv(github.API_ENV, "http://github.example.com")
    assert "must be https://" in report(b, title="t", body="b")


def test_report_keys_are_read_and_checked(tmp_path):
    from conftest import fake_strategy, write_config

    from shared_tools.config.load import load_config
    from shared_tools.config.model import ConfigError

    cfg = write_config(tmp_path, [fake_strategy("alpha", "flip")])
    raw = json.loads(Path(cfg).read_text())
    raw["discord"] = {"report_repo": "me/bot", "report_github_token": "x"}
    Path(cfg).write_text(json.dumps(raw))
    dc_settings = load_config(cfg).notify.discord
    assert (dc_settings.report_repo, dc_settings.report_github_token) == ("me/bot", "x")
    raw["discord"] = {"report_repo": "just-a-name"}
    Path(cfg).write_text(json.dumps(raw))
    with pytest.raises(ConfigError) as err:
        load_config(cfg)
    assert any("discord.report_repo must be owner/name" in line for line in err.value.lines)
