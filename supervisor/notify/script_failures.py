"""Signal-script failure alerts: upstream's two trackers per strategy (reference B.5).

Every cycle's outcomes feed :func:`track`. A failed worker run counts on the **primary** streak
(alert at 3 in a row) unless its error reads as transient (429, any 5xx, rate limits, a
CloudFront error, a timeout: PR #1437 made 5xx transient), which counts on the **transient**
streak instead (alert at 15 in a row or 75 minutes after the first). A transient failure neither
advances nor resets the primary streak; only a clean run resets both, and sends the recovery
message when an alert had fired. After crossing a threshold the alert repeats only when the
error's first 120 characters change, on every 10th failure, or after 6 hours.

Deliberate difference: upstream keeps the trackers in memory, so a restart forgets a streak and
a failing script re-alerts after every restart. Here they live in ``app.extra`` and commit with
the cycle, so a restart neither re-DMs nor loses the streak. Upstream's ``script timed out
after`` is matched as ``timed out after`` (this build's wording), and the texts carry no worker
pid (a worker here lives for one run).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from supervisor.state.models import AppState, parse_iso, utc_iso

EXTRA_KEY = "script_failures"
PRIMARY_AT = 3
TRANSIENT_AT = 15
TRANSIENT_WINDOW_S = 75 * 60.0
RENOTIFY_EVERY = 10
RENOTIFY_AFTER_S = 6 * 3600.0  # upstream's alert_throttle_interval default
SIGNATURE_CHARS = 120

# Errors that are not the strategy's own (reference B.5): case-insensitive, as upstream.
_STATUS = r"(?:429|5\d\d)"
_TRANSIENT = re.compile(
    rf"\({_STATUS}[,)]|http {_STATUS}\b|status_{_STATUS}\b|status_code={_STATUS}\b"
    r"|rate limit|error from cloudfront|bad gateway|timed out after",
    re.IGNORECASE,
)
# Outcomes that are not a worker's verdict (the supervisor stopping, its own save failing, a
# bug applying a good result): neither a failure nor a clean run.
_NOT_SCRIPT = ("skipped: shutting down", "not trading:", "internal error applying result")
_CRASH = re.compile(
    r"^(?:exit -?\d+|killed by|unparsable output|timed out|output exceeded|batch |no result)"
)


def is_transient(error: str) -> bool:
    """Whether upstream counts ``error`` as a transient (upstream-side) failure."""
    return bool(_TRANSIENT.search(error))


def kind_of(error: str) -> str:
    """``hard crash`` (no usable output) or ``script error`` (the worker reported an error)."""
    return "hard crash" if _CRASH.match(error) else "script error"


@dataclass
class Alert:
    """One message to send: to every channel and the owner's DM."""

    strategy_id: str
    text: str
    recovered: bool = False


def _tracker() -> dict:
    return {"n": 0, "first": "", "alerted": False, "notified_at": "", "sig": "", "notified_n": 0}


def _should_notify(t: dict, error: str, now: datetime) -> bool:
    """Upstream's re-notify rule once over the threshold (B.5)."""
    if not t["alerted"]:
        return True
    if error[:SIGNATURE_CHARS] != t["sig"]:
        return True
    if t["n"] % RENOTIFY_EVERY == 0:
        return True
    try:
        return (now - parse_iso(t["notified_at"])).total_seconds() >= RENOTIFY_AFTER_S
    except ValueError:
        return True


def _failed(sid: str, platform: str, rec: dict, error: str, now: datetime) -> Alert | None:
    transient = is_transient(error)
    t = rec["transient" if transient else "primary"]
    t["n"] += 1
    if not t["first"]:
        t["first"] = utc_iso(now)
    if transient:
        age = (now - parse_iso(t["first"])).total_seconds()
        crossed = t["n"] >= TRANSIENT_AT or age >= TRANSIENT_WINDOW_S
    else:
        crossed = t["n"] >= PRIMARY_AT
    if not crossed or not _should_notify(t, error, now):
        return None
    t.update(alerted=True, notified_at=utc_iso(now), sig=error[:SIGNATURE_CHARS])
    head = (
        "**SIGNAL SCRIPT FAILING (sustained upstream error)**"
        if transient
        else ("**SIGNAL SCRIPT FAILING**")
    )
    text = (
        f"{head} [{sid}] {platform} script ({kind_of(error)}, "
        f"{t['n']} consecutive failures): {error}"
    )
    return Alert(sid, text)


def _recovered(sid: str, platform: str, rec: dict) -> Alert | None:
    alerted = [t for t in rec.values() if t["alerted"]]
    if not alerted:
        return None
    n = max(t["n"] for t in alerted)  # the streak that alerted
    return Alert(
        sid,
        f"**SIGNAL SCRIPT RECOVERED** [{sid}] {platform} script succeeded after "
        f"{n} consecutive failures",
        recovered=True,
    )


def track(app: AppState, outcomes: list, now: datetime) -> list[Alert]:
    """Feed one cycle's outcomes to the trackers in ``app.extra``; the alerts that are due."""
    store: dict = app.extra.setdefault(EXTRA_KEY, {})
    alerts: list[Alert] = []
    for o in outcomes:
        error = str(o.error or "")
        if error.startswith(_NOT_SCRIPT):
            continue
        strat = app.strategies.get(o.id)
        platform = strat.platform if strat else ""
        if not error and o.signal is None:
            continue  # the script did not run (paused, kill switch, a stop hit first)
        if error:
            rec = store.setdefault(o.id, {"primary": _tracker(), "transient": _tracker()})
            alert = _failed(o.id, platform, rec, error, now)
        else:
            rec = store.pop(o.id, None)  # a clean run resets both trackers
            alert = _recovered(o.id, platform, rec) if rec else None
        if alert is not None:
            alerts.append(alert)
    for sid in [s for s in store if s not in app.strategies]:  # removed strategies
        del store[sid]
    return alerts
