"""Market regime classification for the signal checks (catalogue §6.1-§6.4).

Two classifiers label the last bar of a frame:

* ``adx`` (default): Wilder ADX with +DI/-DI. ``ADX < adx_threshold`` -> ``ranging``; else
  ``+DI > -DI`` -> ``trending_up``, ``-DI > +DI`` -> ``trending_down``, equal -> ``ranging``.
* ``composite``: ATR-normalised return/range, Kaufman efficiency and ADX -> one of nine labels.

A check asks :func:`prepare_check_regime` for three things, as upstream's check scripts do: the
``regime`` value printed in the JSON (a bare label without a windows spec, else
``{window: snapshot}``), the live label handed to the close evaluators (``market["regime"]``,
from ``--regime-atr-window``), and the primary window's snapshot.

The label vocabulary (and the rule that a bare ``ranging_directional`` covers its ``_up``/``_down``
halves) lives here once; the entry gate and the close evaluators use it. numpy and the
indicators load on first use, so importing the vocabulary stays cheap.

This is a leaf tool (it imports no strategy). Deliberate differences from upstream, kept on
purpose: ADX/DI and ATR come from :mod:`shared_tools.indicators` (TA-Lib seeding of the Wilder
sums; the same values once warmed up, and a 300-bar window is far past warm-up), and warm-up
bars read as NaN there; the classifier turns them into upstream's zeros (label ``ranging``,
score 0), so the printed snapshot has upstream's shape and values after warm-up.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shared_tools.regime_labels import PRIMARY_WINDOW, label_covered

if TYPE_CHECKING:
    import pandas as pd

CLASSIFIER_ADX = "adx"
CLASSIFIER_COMPOSITE = "composite"
DEFAULT_PERIOD = 14
DEFAULT_ADX_THRESHOLD = 20.0
COMPOSITE_ADX_PERIOD_CAP = 14
HURST_MIN_POINTS = 100

DEFAULT_COMPOSITE_THRESHOLDS: dict[str, float] = {
    "return_eff": 0.05,
    "range_eff": 0.03,
    "adx": 25.0,
    "efficiency": 0.5,
}
_THRESHOLD_ALIASES = {"return_pct": "return_eff", "range_pct": "range_eff"}
_ZERO_METRICS: dict[str, float] = {"adx": 0.0, "plus_di": 0.0, "minus_di": 0.0, "atr_pct": 0.0}


def _zero_metrics() -> dict[str, float]:
    return dict(_ZERO_METRICS)


def disabled_snapshot() -> dict[str, Any]:
    """What a strategy sees when regime is off or its payload is unusable (fail open)."""
    return {"regime": "", "score": 0.0, "metrics": _zero_metrics()}


# --------------------------------------------------------------------------- ATR


def round_atr_large(atr: pd.Series) -> pd.Series:
    """Upstream's ATR convention (§2.2): values >= 100 rounded to an integer, half to even.

    Smaller values keep full precision (rounding would zero a sub-dollar ATR).
    """
    return atr.where(~(atr >= 100), atr.round(0))


def standard_atr(df: pd.DataFrame, period: int = 14, method: str = "simple") -> pd.Series:
    """The ATR surface of §2.3: ``simple`` is rounded by :func:`round_atr_large`, ``wilder`` is not."""
    from shared_tools import indicators

    method = (method or "simple").strip().lower()
    atr = indicators.atr(df, period, method=method)
    return round_atr_large(atr) if method == "simple" else atr


def latest_atr(df: pd.DataFrame, period: int = 14, method: str = "simple") -> float:
    """Last standard ATR when finite and > 0, else 0.0 (upstream's ``latest_atr``)."""
    if len(df) == 0:
        return 0.0
    value = float(standard_atr(df, period, method).iloc[-1])
    return value if math.isfinite(value) and value > 0 else 0.0


def _f(value: Any) -> float:
    """A float with NaN (indicator warm-up) read as upstream's zero-filled warm-up."""
    out = float(value)
    return out if math.isfinite(out) else 0.0


# --------------------------------------------------------------------------- classifiers


def adx_label(adx: float, plus_di: float, minus_di: float, adx_threshold: float) -> str:
    """§6.1 rule on one bar (NaN inputs have been zeroed by the caller)."""
    if adx < adx_threshold:
        return "ranging"
    if plus_di > minus_di:
        return "trending_up"
    if minus_di > plus_di:
        return "trending_down"
    return "ranging"


def latest_regime(
    df: pd.DataFrame, period: int = DEFAULT_PERIOD, adx_threshold: float = DEFAULT_ADX_THRESHOLD
) -> dict[str, Any]:
    """ADX snapshot of the last bar: ``{regime, score, metrics{adx, plus_di, minus_di, atr_pct}}``."""
    from shared_tools import indicators

    if len(df) == 0:
        return {"regime": "ranging", "score": 0.0, "metrics": _zero_metrics()}
    adx = plus = minus = 0.0
    if len(df) > period:  # upstream needs n > period; shorter frames stay ranging/0
        last = indicators.adx(df, period).iloc[-1]
        adx, plus, minus = _f(last["adx"]), _f(last["plus_di"]), _f(last["minus_di"])
    atr = latest_atr(df, period)
    close = float(df["close"].iloc[-1])
    return {
        "regime": adx_label(adx, plus, minus, adx_threshold),
        "score": min(adx / 100.0, 1.0),
        "metrics": {
            "adx": adx,
            "plus_di": plus,
            "minus_di": minus,
            "atr_pct": round(atr / close * 100.0, 4) if close != 0 else 0.0,
        },
    }


def normalize_thresholds(thresholds: Mapping[str, Any] | None) -> dict[str, float]:
    """Composite thresholds with defaults; ``return_pct``/``range_pct`` are aliases, canonical wins."""
    raw = dict(thresholds or {})
    unknown = sorted(str(k) for k in raw if k not in DEFAULT_COMPOSITE_THRESHOLDS)
    unknown = [k for k in unknown if k not in _THRESHOLD_ALIASES]
    if unknown:
        raise ValueError(f"unknown composite threshold key(s): {', '.join(unknown)}")
    out = dict(DEFAULT_COMPOSITE_THRESHOLDS)
    for alias, canonical in _THRESHOLD_ALIASES.items():
        if alias in raw and canonical not in raw:
            out[canonical] = float(raw[alias])
    for key in DEFAULT_COMPOSITE_THRESHOLDS:
        if key in raw:
            out[key] = float(raw[key])
    return out


def map_composite_label(
    return_eff: float,
    adx: float,
    range_eff: float,
    efficiency: float,
    thresholds: Mapping[str, Any] | None = None,
) -> str:
    """§6.2 label mapping (inclusive ``>=`` on every threshold)."""
    th = normalize_thresholds(thresholds)
    big = abs(return_eff) >= th["return_eff"]
    high_adx = adx >= th["adx"]
    wide = range_eff >= th["range_eff"]
    clean = efficiency >= th["efficiency"] and high_adx
    if big:
        side = "up" if return_eff > 0 else "down"
        return f"trending_{side}_{'clean' if clean else 'choppy'}"
    if high_adx:
        if return_eff > 0:
            return "ranging_directional_up"
        if return_eff < 0:
            return "ranging_directional_down"
        return "ranging_directional"
    return "ranging_volatile" if wide else "ranging_quiet"


def hurst_exponent(close: pd.Series) -> float:
    """DFA-1 Hurst estimate on log returns; NaN below 100 returns or on degenerate data.

    Scales: 12 log-spaced window sizes from 8 to n/4 (duplicates dropped); per scale the
    profile is cut into non-overlapping windows, each detrended by a least-squares line; H is
    the slope of log(RMS fluctuation) on log(scale). Advisory only (no label depends on it).
    """
    import numpy as np

    values = close.to_numpy(dtype=float)
    values = values[np.isfinite(values) & (values > 0)]
    returns = np.diff(np.log(values))
    n = len(returns)
    if n < HURST_MIN_POINTS:
        return float("nan")
    profile = np.cumsum(returns - returns.mean())
    scales = np.unique(np.floor(np.logspace(np.log10(8), np.log10(n // 4), 12)).astype(int))
    xs, ys = [], []
    for s in scales:
        count = n // s
        if s < 4 or count < 1:
            continue
        segments = profile[: count * s].reshape(count, s)
        t = np.arange(s, dtype=float)
        coef = np.polyfit(t, segments.T, 1)  # one line per segment
        trend = np.outer(coef[0], t) + coef[1][:, None]
        rms = np.sqrt(np.mean((segments - trend) ** 2))
        if rms > 0 and math.isfinite(rms):
            xs.append(math.log(s))
            ys.append(math.log(rms))
    if len(xs) < 2:
        return float("nan")
    return float(np.polyfit(xs, ys, 1)[0])


def latest_regime_composite(
    df: pd.DataFrame, period: int, thresholds: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Composite snapshot of the last ``period`` bars (§6.2), ``classifier`` included."""
    from shared_tools import indicators

    th = normalize_thresholds(thresholds)
    base = {"classifier": CLASSIFIER_COMPOSITE}
    if len(df) == 0:
        return {"regime": "ranging", "score": 0.0, "metrics": _zero_metrics(), **base}
    window = df.iloc[-period:] if len(df) > period else df
    atr = latest_atr(df, period)  # pinned to simple, whatever the strategy's atr_method
    if atr <= 0:
        return {"regime": "ranging_quiet", "score": 0.0, "metrics": _zero_metrics(), **base}
    denom = atr * period
    close = window["close"].astype(float)
    close_end, close_start = float(close.iloc[-1]), float(close.iloc[0])
    net = close_end - close_start
    path = float(close.diff().abs().sum())
    return_eff = net / denom
    range_eff = (float(window["high"].max()) - float(window["low"].min())) / denom
    efficiency = abs(net) / path if path > 0 else 0.0
    adx_period = min(period, COMPOSITE_ADX_PERIOD_CAP)
    adx = _f(indicators.adx(df, adx_period)["adx"].iloc[-1]) if len(df) > adx_period else 0.0
    metrics: dict[str, float] = {
        "adx": adx,
        "return_eff": round(return_eff, 4),
        "range_eff": round(range_eff, 4),
        "efficiency": round(efficiency, 4),
        "atr_pct": round(atr / close_end * 100.0, 4) if close_end else 0.0,
    }
    hurst = hurst_exponent(df["close"])
    if math.isfinite(hurst):
        metrics["hurst"] = round(hurst, 4)
    return {
        "regime": map_composite_label(return_eff, adx, range_eff, efficiency, th),
        "score": min(adx / 100.0, 1.0),
        "metrics": metrics,
        **base,
    }


# --------------------------------------------------------------------------- windows


def normalize_spec(spec: Any, *, default_adx_threshold: float = DEFAULT_ADX_THRESHOLD) -> dict:
    """One window spec: a bare int (ADX period) or ``{classifier, period, adx_threshold|thresholds}``."""
    if isinstance(spec, int) and not isinstance(spec, bool):
        spec = {"classifier": CLASSIFIER_ADX, "period": spec}
    if not isinstance(spec, Mapping):
        raise ValueError(f"must be an int or an object spec, got {type(spec).__name__}")
    out = dict(spec)
    out["classifier"] = str(out.get("classifier") or CLASSIFIER_ADX).strip().lower()
    if out["classifier"] not in (CLASSIFIER_ADX, CLASSIFIER_COMPOSITE):
        raise ValueError(f"unsupported classifier {out['classifier']!r}")
    period = out.get("period")
    if not isinstance(period, int) or isinstance(period, bool) or period < 2:
        raise ValueError(f"period must be an int >= 2, got {period!r}")
    if out["classifier"] == CLASSIFIER_ADX:
        out["adx_threshold"] = float(out.get("adx_threshold") or default_adx_threshold)
    else:
        out["thresholds"] = normalize_thresholds(out.get("thresholds"))
    return out


def parse_windows_spec_json(raw: str | None) -> dict[str, dict] | None:
    """``--regime-windows-spec-json``: None/blank -> None; else ``{name: normalized spec}``."""
    text = str(raw or "").strip()
    if not text:
        return None
    parsed = json.loads(text)
    if not isinstance(parsed, dict) or not parsed:
        raise ValueError("regime windows spec JSON must be a non-empty object")
    out: dict[str, dict] = {}
    for name, value in parsed.items():
        key = str(name).strip()
        if not key:
            raise ValueError("regime window names must be non-empty")
        if key.lower() == "regime":
            raise ValueError("regime window name 'regime' is reserved")
        try:
            out[key] = normalize_spec(value)
        except ValueError as exc:
            raise ValueError(f"regime window {key!r}: {exc}") from None
    return out


def classify_window(df: pd.DataFrame, spec: Any) -> dict[str, Any]:
    """Run one window's classifier; the snapshot names its ``classifier``."""
    norm = normalize_spec(spec)
    if norm["classifier"] == CLASSIFIER_COMPOSITE:
        return latest_regime_composite(df, norm["period"], norm["thresholds"])
    snap = latest_regime(df, norm["period"], norm["adx_threshold"])
    snap["classifier"] = CLASSIFIER_ADX
    return snap


def compute_multi_regime(df: pd.DataFrame, windows: Mapping[str, Any]) -> dict[str, dict]:
    """Every window classified on the same frame, in name order."""
    if not windows:
        raise ValueError("windows must be a non-empty object")
    return {name: classify_window(df, windows[name]) for name in sorted(windows)}


def primary_window(names: Iterable[str]) -> str:
    """``medium`` when present, else the lexicographically first name."""
    names = sorted(names)
    return PRIMARY_WINDOW if PRIMARY_WINDOW in names else names[0]


def required_ohlcv_limit(
    period: int = DEFAULT_PERIOD,
    windows: Mapping[str, Any] | None = None,
    *,
    base_limit: int = 200,
    margin: int = 10,
) -> int:
    """Bars a regime needs: ``max(200, 2*max(period, 14) - 1 + 10)`` over every window."""
    longest = period
    for spec in (windows or {}).values():
        p = spec if isinstance(spec, int) else int(dict(spec).get("period") or period)
        longest = max(longest, p)
    return max(base_limit, 2 * max(longest, 14) - 1 + margin)


def regime_label_allows_entry(
    allowed: Iterable[str] | None, current: str, on_failure: str = "open"
) -> bool:
    """Entry gate (§6.4): bare ``ranging_directional`` also admits its ``_up``/``_down``."""
    allowed = set(allowed or ())
    if not allowed:
        return True
    if not current:
        return on_failure != "closed"
    return label_covered(allowed, current)


# --------------------------------------------------------------------------- check wiring


@dataclass
class CheckRegime:
    """What a check needs: the JSON ``regime``, the live close label, the primary snapshot."""

    output: Any = ""  # "" | label | {window: snapshot}
    live_label: str = ""
    primary: dict[str, Any] = field(default_factory=disabled_snapshot)


def regime_from_payload(raw: str | None, *, atr_window: str = "") -> CheckRegime:
    """A scheduler-injected bundle (``--regime-payload-json``): never recomputed.

    Blank or unusable -> regime disabled (fail open); a bare label string is used as is; an
    object of ``{window: snapshot}`` is printed as given.
    """
    text = str(raw or "").strip()
    if not text:
        return CheckRegime()
    try:
        payload = json.loads(text)
    except (ValueError, TypeError):
        return CheckRegime()
    if isinstance(payload, str):
        label = payload.strip()
        return CheckRegime(label, label, {**disabled_snapshot(), "regime": label})
    if not isinstance(payload, dict):
        return CheckRegime()
    windows = {str(k).strip(): v for k, v in payload.items() if str(k).strip()}
    windows = {k: v for k, v in windows.items() if isinstance(v, dict)}
    if not windows:
        return CheckRegime()
    return _resolve(windows, atr_window)


def _resolve(windows: dict[str, dict], atr_window: str) -> CheckRegime:
    key = primary_window(windows)
    primary = windows.get(key, disabled_snapshot())
    atr_key = (atr_window or "").strip() or key
    live = str(windows.get(atr_key, primary).get("regime") or "")
    return CheckRegime(windows, live, primary)


def prepare_check_regime(
    df: pd.DataFrame,
    *,
    enabled: bool,
    windows_spec_json: str | None = None,
    atr_window: str | None = "",
    payload_json: str | None = None,
    period: int = DEFAULT_PERIOD,
    adx_threshold: float = DEFAULT_ADX_THRESHOLD,
) -> CheckRegime:
    """The regime of one check (§6.3): off -> empty; payload -> as injected; else computed.

    Without a windows spec the single ADX window (14 / 20.0) is printed as a bare label.
    """
    if not enabled:
        return CheckRegime()
    if payload_json is not None:
        return regime_from_payload(payload_json, atr_window=atr_window or "")
    spec = parse_windows_spec_json(windows_spec_json)
    if spec:
        return _resolve(compute_multi_regime(df, spec), atr_window or "")
    snap = classify_window(
        df, {"classifier": CLASSIFIER_ADX, "period": period, "adx_threshold": adx_threshold}
    )
    label = str(snap.get("regime") or "")
    return CheckRegime(label, label, snap)
