"""What a command does, whatever chat it came from: the permission check, the daemon API call,
the reply text, and the confirmation of dangerous commands.

Permission (reference B.1, with the port's stricter default): ops commands need the configured
owner, in a DM. Read-only commands are owner-only unless ``discord.public_commands`` is true
(upstream lets any guild member read positions and P&L: its "Obs"), and in a guild only in
``discord.allowed_channels`` when that list is set. Telegram answers the owner's chat only.

Confirmation: ``close``, ``pause``, ``resume``, ``update`` and the structural actions
(chat_bridge/structural.py: add/remove-strategy, paper-to-live, apply-regime-gate,
clear-cash-reconcile) ask the daemon for a nonce (``POST /api/confirm``,
the dashboard's flow: 60 s, bound to the action, strategy and params, deleted on first use) and
show Confirm/Cancel buttons tagged with a one-off code, so a reply can never confirm another
prompt (upstream's AskDM routes a "confirm" to whichever prompt waits first). The press sends
the nonce back; an expired or spent nonce does nothing. The waiting prompts are kept in the
bridge's state file with their wall-clock expiry, so a press after a bridge restart works once
inside the window; if the daemon restarted meanwhile its nonce is gone and the press answers
"expired — ask again". ``restart`` (no daemon action) and
``config set`` (the tuner's write, which takes no nonce) keep their confirmation here, with the
same 60 s, once.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from chat_bridge import github, render, structural
from chat_bridge.backtest_run import Backtests, Outcome
from chat_bridge.commands import COMMANDS, Command
from chat_bridge.daemon_api import DaemonAPI, DaemonDown
from chat_bridge.store import Store

CONFIRM_TTL_S = 60
EXPIRED = "Confirmation expired — nothing done; ask again."
CANCELLED = "Cancelled — nothing done."
LOG_DEFAULT, LOG_MAX = 50, 200
CONFIG_MESSAGES = 4  # config show: at most this many 2000-byte messages


@dataclass(frozen=True)
class Access:
    """Who may ask what, on one chat platform."""

    owner: str = ""
    public_commands: bool = False
    allowed_channels: frozenset[str] = frozenset()
    ephemeral: bool = True


@dataclass
class Invocation:
    transport: str  # "discord" | "telegram"
    command: str  # without the go-trader- prefix
    options: dict[str, Any]
    user: str
    in_dm: bool
    channel: str = ""


@dataclass
class Answer:
    messages: list[str]
    ephemeral: bool = True
    confirm: str | None = None  # a confirmation code: the transport adds the buttons
    refused: bool = False
    # a long job (/backtest): the transport runs it after sending ``messages`` and sends its
    # summary and, as a file, its text (chat_bridge/attachments.py)
    later: Callable[[], Outcome] | None = None


@dataclass
class Pending:
    action: str
    sid: str
    params: dict[str, Any]
    nonce: str | None
    user: str
    expires: float  # wall clock (epoch seconds): it must mean the same after a restart
    transport: str = field(default="discord")


class Bridge:
    """The transport-independent handler; one per process, shared by both transports."""

    def __init__(
        self,
        api: DaemonAPI,
        access: dict[str, Access],
        config_path: Path,
        *,
        clock: Callable[[], float] = time.time,
        service: str | None = None,
        report: github.ReportSettings | None = None,
        backtests: Backtests | None = None,
        store: Store | None = None,
    ) -> None:
        self.api = api
        self.access = access
        self.config_path = config_path
        self.clock = clock
        self.service = service or os.environ.get("GO_TRADER_SERVICE") or "go-trader"
        self.store = store
        self._pending: dict[str, Pending] = {}
        self.report = report or github.ReportSettings()
        self.backtests = backtests or Backtests()
        if store is not None:
            for code, doc in store.confirms().items():
                try:
                    self._pending[code] = Pending(**doc)
                except TypeError:
                    continue  # an entry from another version: that prompt expires
        self._lock = threading.Lock()

    # -- permission ------------------------------------------------------------------------------
    def denial(self, inv: Invocation, cmd: Command) -> str | None:
        """None when ``inv`` may run ``cmd``, else the reasons (one line each)."""
        acc = self.access.get(inv.transport, Access())
        key = "owner_id" if inv.transport == "discord" else "owner_chat_id"
        reasons = []
        if not acc.owner:
            reasons.append(f"{inv.transport}.{key} is not set: commands are off.")
        elif inv.user != acc.owner and (cmd.owner or not acc.public_commands):
            reasons.append("This command is restricted to the bot owner.")
        if cmd.owner and not inv.in_dm:
            reasons.append("This command only works in a DM with the bot.")
        if (
            not cmd.owner
            and not inv.in_dm
            and acc.allowed_channels
            and inv.channel not in acc.allowed_channels
        ):
            reasons.append("Commands are not allowed in this channel.")
        return "\n".join(reasons) or None

    # -- commands --------------------------------------------------------------------------------
    def run(self, inv: Invocation) -> Answer:
        """The answer to one command (never raises: a down daemon is a one-line reply)."""
        cmd = COMMANDS.get(inv.command)
        if cmd is None:
            return Answer([f"Unknown command {inv.command!r}. Try /help."], refused=True)
        why = self.denial(inv, cmd)
        if why:
            return Answer([why], refused=True)
        ephemeral = self.access.get(inv.transport, Access()).ephemeral or cmd.owner
        if not cmd.built:
            text = f"/{cmd.name} is not built in this port's chat bridge; instead: {cmd.instead}."
            return Answer([text], ephemeral)
        try:
            if cmd.name == "config" and inv.options.get("action") == "set":
                return self._ask_config(inv)
            if cmd.mutating:
                return self._ask(inv, cmd)
            if cmd.name == "backtest":
                return self._backtest(inv, ephemeral)
            out = getattr(self, "_" + cmd.name.replace("-", "_"))(inv.options)
        except DaemonDown as exc:
            return Answer([f"Daemon unavailable: {exc}."], ephemeral)
        messages = out if isinstance(out, list) else [out]
        return Answer([render.cut(m) for m in messages], ephemeral)

    def _status(self, _o: dict[str, Any]) -> str:
        code, doc = self.api.get("/status")
        _c, strategies = self.api.get("/api/strategies")
        return _error(code, doc) or render.status(doc, strategies.get("strategies", []))

    def _health(self, _o: dict[str, Any]) -> str:
        code, doc = self.api.get("/health")
        return render.health(code, doc, time.time())

    def _positions(self, _o: dict[str, Any]) -> str:
        code, doc = self.api.get("/status")
        return _error(code, doc) or render.positions(doc)

    def _pnl(self, _o: dict[str, Any]) -> str:
        code, doc = self.api.get("/status")
        return _error(code, doc) or render.pnl(doc)

    def _leaderboard(self, o: dict[str, Any]) -> str:
        code, doc = self.api.get("/api/leaderboard")
        top = _int(o.get("top"), 5)
        return _error(code, doc) or render.leaderboard(doc.get("entries", []), top)

    def _circuit_breakers(self, _o: dict[str, Any]) -> str:
        code, doc = self.api.get("/status")
        return _error(code, doc) or render.circuit_breakers(doc)

    def _dead_strategies(self, _o: dict[str, Any]) -> str:
        code, doc = self.api.get("/api/strategies/dead")
        return _error(code, doc) or render.dead(doc)

    def _correlation(self, _o: dict[str, Any]) -> str:
        code, doc = self.api.get("/api/correlation")
        return _error(code, doc) or render.correlation(doc)

    def _closing_strategies(self, _o: dict[str, Any]) -> str | list[str]:
        code, doc = self.api.get("/api/closing-strategies")
        return _error(code, doc) or render.closing_strategies(doc)

    def _logs(self, o: dict[str, Any]) -> str:
        """The journal of the daemon's unit (``GO_TRADER_SERVICE``, not a hard-coded name)."""
        n = max(1, min(LOG_MAX, _int(o.get("n"), LOG_DEFAULT)))
        argv = ["journalctl", "-u", self.service, "-n", str(n), "--no-pager"]
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=20)
            text = (out.stdout or out.stderr or "(no output)").strip()
        except (OSError, subprocess.TimeoutExpired) as exc:
            text = f"journalctl failed: {exc}"
        tail = text.encode()[-(render.MAX_BYTES - 10) :].decode("utf-8", "ignore")
        return f"```\n{tail}\n```"

    def _config(self, o: dict[str, Any]) -> list[str] | str:
        try:
            raw = json.loads(self.config_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            return f"config unreadable: {exc}"
        text = json.dumps(render.redacted_config(raw), indent=1)
        size = render.MAX_BYTES - 12
        chunks = [text[i : i + size] for i in range(0, len(text), size)]
        out = [f"```json\n{c}\n```" for c in chunks[:CONFIG_MESSAGES]]
        if len(chunks) > CONFIG_MESSAGES:
            out.append(f"… {len(text) - CONFIG_MESSAGES * size} more characters: see the file.")
        return out

    def _add_platform(self, o: dict[str, Any]) -> str:
        return render.add_platform(str(o.get("name") or ""))

    def _report_an_issue(self, o: dict[str, Any]) -> str:
        title, body = str(o.get("title") or ""), str(o.get("body") or "")
        return github.report(self.report, title, body, str(o.get("label") or ""))

    def _backtest(self, inv: Invocation, ephemeral: bool) -> Answer:
        """Checked and started at once; the transport runs the job and sends its result."""
        job = self.backtests.start(inv.options)
        if isinstance(job, str):
            return Answer([job], ephemeral, refused=True)
        shown = " ".join(str(inv.options.get(k) or "") for k in ("strategy", "symbol", "timeframe"))
        text = f"⏳ Backtest {shown.strip()} started; the result follows (5 min at most)."
        return Answer([text], ephemeral, later=job)

    # -- confirmations ---------------------------------------------------------------------------
    def _ask(self, inv: Invocation, cmd: Command) -> Answer:
        if cmd.name in structural.ACTIONS:
            return self._ask_structural(inv, cmd)
        sid = str(inv.options.get("strategy") or "")
        params: dict[str, Any] = {}
        if cmd.name == "restart":
            nonce, ttl, desc = None, CONFIRM_TTL_S, f"restart the {self.service} service"
        elif cmd.name == "update":
            code, doc = self.api.post(
                "/api/confirm", {"action": "update", "strategy_id": "", "params": {}}
            )
            if code != 200:
                return Answer([f"Refused: {doc.get('error', code)}"], refused=True)
            nonce, ttl, desc = doc["nonce"], int(doc["expires_in_seconds"]), doc["description"]
        else:
            if cmd.name == "close" and inv.options.get("qty") not in (None, ""):
                params["qty"] = _number(inv.options["qty"])
            code, doc = self.api.post(
                "/api/confirm", {"action": cmd.name, "strategy_id": sid, "params": params}
            )
            if code != 200:
                return Answer([f"Refused: {doc.get('error', code)}"], refused=True)
            nonce, ttl, desc = doc["nonce"], int(doc["expires_in_seconds"]), doc["description"]
        return self._pend(
            Pending(cmd.name, sid, params, nonce, inv.user, 0.0, inv.transport), ttl, desc
        )

    def _pend(self, p: Pending, ttl: int, desc: str) -> Answer:
        code = os.urandom(6).hex()
        with self._lock:
            now = self.clock()
            for k in [k for k, old in self._pending.items() if old.expires <= now]:
                del self._pending[k]
            p.expires = now + ttl
            self._pending[code] = p
            self._persist()
        text = f"⚠️ Confirm: {desc}? Press Confirm within {ttl}s; after that nothing is done."
        return Answer([text], True, confirm=code)

    def _ask_structural(self, inv: Invocation, cmd: Command) -> Answer:
        """add/remove-strategy, paper-to-live, apply-regime-gate, clear-cash-reconcile: the
        daemon's nonce, its description in the prompt (chat_bridge/structural.py)."""
        req = structural.request(cmd.name, inv.options)
        if isinstance(req, str):
            return Answer([req], refused=True)
        sid, params = req
        if cmd.name == "apply-regime-gate" and not sid:
            return Answer([render.cut(structural.eligible(self.api, params["gate"]))])
        code, doc = self.api.post(
            "/api/confirm", {"action": cmd.name, "strategy_id": sid, "params": params}
        )
        if code != 200:
            return Answer([f"Refused: {doc.get('error', code)}"], refused=True)
        p = Pending(cmd.name, sid, params, doc["nonce"], inv.user, 0.0, inv.transport)
        return self._pend(p, int(doc["expires_in_seconds"]), structural.prompt(cmd.name, doc))

    def _ask_config(self, inv: Invocation) -> Answer:
        """``config set strategies.<id>.<key> <value>``: upstream's per-strategy keys, written
        through the dashboard's tuner path (validated, and refused as a SIGHUP reload would
        refuse it: a flat-only key while a position is open is refused, where upstream
        restarts). Top-level keys are not set from chat here."""
        key, raw = str(inv.options.get("key") or ""), str(inv.options.get("value") or "")
        parts = key.split(".")  # a strategy id may itself hold dots
        if len(parts) < 3 or parts[0] != "strategies" or parts[-1] not in CONFIG_SET:
            names = ", ".join(CONFIG_SET)
            return Answer(
                [
                    f"config set takes strategies.<id>.<key> with key one of {names}; "
                    "top-level keys: edit the file, then `go-trader check-config` and SIGHUP."
                ],
                refused=True,
            )
        sid, name = ".".join(parts[1:-1]), parts[-1]
        value = _value(raw)
        why = CONFIG_SET[name](value)
        if why:
            return Answer([f"{key}: {why}, got {raw!r}"], refused=True)
        p = Pending("config", sid, {"overrides": {name: value}}, None, inv.user, 0.0, inv.transport)
        return self._pend(p, CONFIRM_TTL_S, f"set {key} = {json.dumps(value)}")

    def resolve(self, code: str, user: str, accept: bool) -> str:
        """A Confirm or Cancel press: the action runs at most once, only for its asker."""
        with self._lock:
            p = self._pending.get(code)
            if p is not None and p.user != user:
                return "This confirmation belongs to someone else."
            if self._pending.pop(code, None) is not None:
                self._persist()  # on disk before the action: a crash never runs it twice
        if p is None:
            return EXPIRED
        if not accept:
            return CANCELLED
        if p.expires <= self.clock():
            return EXPIRED
        try:
            return self._execute(p)
        except DaemonDown as exc:
            return f"Daemon unavailable: {exc}. Nothing was done."

    def _persist(self) -> None:
        """The waiting prompts to the state file (under ``self._lock``)."""
        if self.store is not None:
            self.store.set_confirms({k: asdict(v) for k, v in self._pending.items()})

    def _execute(self, p: Pending) -> str:
        if p.action == "restart":
            argv = ["systemctl", "restart", self.service]
            try:
                out = subprocess.run(argv, capture_output=True, text=True, timeout=60)
            except (OSError, subprocess.TimeoutExpired) as exc:
                return f"restart failed: {exc}"
            return "Restarting." if out.returncode == 0 else f"restart failed: {out.stderr[:300]}"
        if p.action == "update":
            code, doc = self.api.post("/api/update", {"nonce": p.nonce})
        elif p.action == "config":
            code, doc = self.api.post(self.api.strategy_path(p.sid, "config"), p.params)
        elif p.action in structural.ACTIONS:
            path = structural.path(self.api, p.action, p.sid)
            code, doc = self.api.post(path, {"nonce": p.nonce, "params": p.params})
        elif p.action in ("pause", "resume"):
            body: dict[str, Any] = {"paused": p.action == "pause", "nonce": p.nonce}
            code, doc = self.api.post(self.api.strategy_path(p.sid, "pause"), body)
        else:
            body = {"nonce": p.nonce, "params": p.params}
            code, doc = self.api.post(self.api.strategy_path(p.sid, p.action), body)
        if code == 403:
            return EXPIRED
        if code != 200:
            return f"Refused: {doc.get('error', code)}"
        return render.cut(f"✅ {doc.get('message') or 'done'}")


def _value(raw: str) -> Any:
    """A chat-typed value: true/false, null/none, a number, else the text."""
    low = raw.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("null", "none"):
        return None
    try:
        return json.loads(low) if low[:1].isdigit() or low[:1] in "-." else raw.strip()
    except ValueError:
        return raw.strip()


def _num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


# upstream's per-strategy `config set` keys and their checks ("" = fine)
CONFIG_SET: dict[str, Callable[[Any], str]] = {
    "interval_seconds": lambda v: "" if isinstance(v, int) and v > 0 else "must be an integer > 0",
    "direction": lambda v: "" if v in ("long", "short", "both") else "must be long, short or both",
    "invert_signal": lambda v: "" if isinstance(v, bool) else "must be true or false",
    "leverage": lambda v: "" if _num(v) and v > 0 else "must be a number > 0",
    "stop_loss_pct": lambda v: "" if v is None or (_num(v) and v >= 0) else "must be >= 0 or none",
    "stop_loss_atr_mult": lambda v: (
        "" if v is None or (_num(v) and v >= 0) else "must be >= 0 or none"
    ),
}


def _error(code: int, doc: Any) -> str | None:
    if code == 200:
        return None
    return f"The daemon answered {code}: {doc.get('error') if isinstance(doc, dict) else doc}"


def _int(value: object, default: int) -> int:
    try:
        return int(str(value)) if value not in (None, "") else default
    except ValueError:
        return default


def _number(value: object) -> float:
    try:
        return float(str(value))
    except ValueError:
        return -1.0  # the daemon refuses it (must be >= 0) with its own message
