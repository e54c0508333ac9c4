"""The offline market: deterministic candles that are a pure function of (seed, symbol, time).

Why a pure function instead of a random walk with state: every worker process, the demo and
every test must see the *same* bar for the same (symbol, timeframe, open time) without sharing
files, and the series must keep moving forward with the clock. So the log price is a sum of
value-noise octaves evaluated directly at a timestamp::

    x(t)   = sum_k a_k * g_k(t) * noise_k(t)          k = 0..20, grid spacing 60 s * 2**k
    log p  = centre + R * tanh(x / R)                 R = half the symbol's log price range

* ``noise_k`` smoothly (smoothstep) interpolates hashed uniform values on a grid; the hash is a
  counter-based splitmix64 of (seed, symbol, octave, grid index): no RNG state, O(octaves) per
  timestamp, fully vectorised with numpy.
* ``a_k`` is proportional to sqrt(spacing) (Brownian-like increments) and calibrated so the
  daily log-return std is the symbol's typical daily volatility; the top octaves (~6 months to
  ~2 years) are sized from the price range instead, so a symbol wanders across its range.
* ``g_k`` is a slowly varying envelope: a volatility envelope (days-weeks) on the octaves up to
  ~17 h gives volatility clustering, a trend envelope (weeks) on the ~1.5-23 day octaves gives
  trending and ranging regimes.
* ``tanh`` bounds the price inside the symbol's plausible range and is monotone, so OHLC order
  relations survive it.

A bar samples the path at ``M`` points (open = x(start), close = x(end), so a bar's open is
the previous close exactly); high/low are the sampled extremes widened by a small hashed wick
standing in for moves below the sampling resolution. Volume is hashed lognormal, scaled with
the local volatility and the bar's own move. Markets are simulated 24/7 (no sessions), also
for futures/equity-like symbols.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from shared_tools.market.common import ENV_SEED, make_frame

DEFAULT_SEED = 42

_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_C1 = np.uint64(0xBF58476D1CE4E5B9)
_C2 = np.uint64(0x94D049BB133111EB)
_GOLDEN_U = np.uint64(_GOLDEN)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)

BASE_SPACING = 60  # seconds, octave 0
N_OCTAVES = 21  # octave 20 has a grid spacing of ~728 days
VOL_ENV_TOP = 10  # octaves 0..10 (<= ~17 h) follow the volatility envelope
TREND_OCTAVES = range(11, 16)  # ~1.4 .. ~23 days follow the trend envelope
# share of the half log-range for the slowest octaves; caps for the weeks-to-months ones
_RANGE_SHARE = {18: 0.35, 19: 0.55, 20: 0.35}
_BROWNIAN_CAP = {14: 0.25, 15: 0.30, 16: 0.35, 17: 0.40}
# measured: daily log-return std / daily_vol with _CAL = 1 (10 years of 1d bars, 5 seeds,
# BTC/ETH/SOL/ES/unknown all ~1.28); dividing by it makes daily_vol the realised daily std
_CAL = 1.28


@dataclass(frozen=True)
class Profile:
    """Price level and character of one simulated market."""

    base: str
    low: float  # plausible price range (the path never leaves it, wicks barely)
    high: float
    daily_vol: float  # typical daily log-return std
    notional: float  # typical quote volume per day, sets the volume scale


_PROFILES: dict[str, Profile] = {
    p.base: p
    for p in (
        Profile("BTC", 20_000, 120_000, 0.030, 8e8),
        Profile("ETH", 1_000, 5_000, 0.038, 4e8),
        Profile("SOL", 20, 300, 0.050, 2e8),
        Profile("BNB", 200, 900, 0.032, 8e7),
        Profile("XRP", 0.30, 3.5, 0.048, 1.5e8),
        Profile("DOGE", 0.05, 0.50, 0.055, 1e8),
        Profile("ADA", 0.25, 1.5, 0.048, 6e7),
        Profile("AVAX", 9, 120, 0.052, 5e7),
        Profile("LINK", 5, 50, 0.050, 5e7),
        Profile("LTC", 45, 200, 0.042, 4e7),
        Profile("DOT", 3, 15, 0.048, 3e7),
        Profile("ES", 4_000, 6_500, 0.011, 3e11),
        Profile("NQ", 12_000, 23_000, 0.014, 2e11),
        Profile("SPY", 400, 650, 0.011, 3e10),
        Profile("QQQ", 300, 560, 0.014, 2e10),
        Profile("GC", 1_800, 3_500, 0.010, 4e10),
        Profile("CL", 55, 110, 0.022, 3e10),
    )
}
# micro contracts and venue spellings track the same underlying price
_ALIASES = {"MES": "ES", "MNQ": "NQ", "MGC": "GC", "MCL": "CL", "XBT": "BTC"}
_QUOTES = ("FDUSD", "USDT", "USDC", "BUSD", "TUSD", "USD", "EUR", "GBP", "ZAR")
_SEPARATORS = "/-_ ="


def sim_base(symbol: str) -> str:
    """Map 'BTC/USDT', 'BTC-USD', 'BTCUSDT', 'btc', 'BTC/USDT:USDT' -> 'BTC'.

    BTC/USDT and BTC/USD are deliberately the same simulated market; micro futures (MES) share
    the full contract's price (ES).
    """
    s = str(symbol).strip().upper().split(":")[0]
    for sep in _SEPARATORS:
        if sep in s:
            head = s.split(sep)[0]
            if head:
                s = head
                break
    if s not in _PROFILES and s not in _ALIASES:
        for quote in _QUOTES:
            if s.endswith(quote) and len(s) > len(quote):
                s = s[: -len(quote)]
                break
    return _ALIASES.get(s, s) or "?"


def _hash_text(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def _mix_int(x: int) -> int:
    """Scalar splitmix64 (Python ints) for deriving per-stream keys."""
    z = (x + _GOLDEN) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def _hash(key: int, idx: np.ndarray) -> np.ndarray:
    """Counter-based splitmix64 of (key, idx) -> uint64, vectorised."""
    z = idx.astype(np.int64).view(np.uint64) * _GOLDEN_U
    z += np.uint64(key)
    z ^= z >> _S30
    z *= _C1
    z ^= z >> _S27
    z *= _C2
    z ^= z >> _S31
    return z


def _uniform(key: int, idx: np.ndarray) -> np.ndarray:
    """Hashed uniforms in [-1, 1)."""
    return (_hash(key, idx) >> _S11).astype(np.float64) * (2.0**-52) - 1.0


def _unit(key: int, idx: np.ndarray) -> np.ndarray:
    """Hashed uniforms in [0, 1)."""
    return (_hash(key, idx) >> _S11).astype(np.float64) * (2.0**-53)


def _noise(t_min: np.ndarray, key: int, octave: int) -> np.ndarray:
    """Smooth value noise on a grid of 60 s * 2**octave; ``t_min`` = ascending epoch minutes.

    Each stream gets a hashed phase so the grids of different octaves never line up.
    """
    phase = (_mix_int(key ^ 0x5DEECE66D) >> 11) * 2.0**-53
    u = t_min * (2.0**-octave)  # exact: power-of-two scaling
    u += phase
    ii = np.floor(u)
    u -= ii  # fractional position inside the grid cell
    ii = ii.astype(np.int64)
    lo = int(ii[0])
    hi = int(ii[-1])
    if hi - lo + 2 <= ii.size:  # coarse octave: hash each grid point once, then gather
        grid = _uniform(key, np.arange(lo, hi + 2, dtype=np.int64))
        ii -= lo
        v0 = grid.take(ii)
        v1 = grid[1:].take(ii)
    else:
        v0 = _uniform(key, ii)
        ii += 1
        v1 = _uniform(key, ii)
    w = u * -2.0  # smoothstep 3f^2 - 2f^3
    w += 3.0
    w *= u
    w *= u
    v1 -= v0
    v1 *= w
    v1 += v0
    return v1


def seed_from_env() -> int:
    """GO_TRADER_SIM_SEED (default 42): a different seed is a different, equally valid market."""
    raw = os.environ.get(ENV_SEED, "").strip()
    if not raw:
        return DEFAULT_SEED
    try:
        return int(raw, 0)
    except ValueError:
        raise ValueError(f"{ENV_SEED}={raw!r} is not an integer seed") from None


@dataclass(frozen=True)
class _Model:
    centre: float
    half_range: float
    c: float  # amplitude per sqrt(second) of the Brownian-like octaves
    keys: tuple[int, ...]  # one hash key per octave
    vol_keys: tuple[int, int]
    trend_key: int
    wick_key: int
    volume_key: int
    amplitudes: tuple[float, ...]
    volume_per_second: float


@lru_cache(maxsize=512)
def _model(seed: int, base: str) -> _Model:
    profile = _PROFILES.get(base)
    sym = _hash_text(base)
    if profile is None:  # unknown symbol: a stable hashed price level between 10 and 500
        u = (_mix_int(sym ^ 0xA5A5) >> 11) * 2.0**-53
        mid = math.exp(math.log(10) + u * (math.log(500) - math.log(10)))
        profile = Profile(base, mid / 2.5, mid * 2.5, 0.045, 2e7)
    root = _mix_int((seed & _MASK) ^ _mix_int(sym))
    keys = tuple(_mix_int(root + 1 + k) for k in range(N_OCTAVES))
    half = 0.5 * math.log(profile.high / profile.low)
    c = profile.daily_vol / (_CAL * math.sqrt(86400.0))
    amps = []
    for k in range(N_OCTAVES):
        brownian = c * math.sqrt(BASE_SPACING * 2.0**k)
        if k in _RANGE_SHARE:  # months to years: sized by the price range, not the volatility
            amps.append(_RANGE_SHARE[k] * half)
        else:  # capped so that volatile symbols with narrow ranges don't pin to the bounds
            amps.append(min(brownian, _BROWNIAN_CAP.get(k, math.inf) * half))
    return _Model(
        centre=0.5 * math.log(profile.high * profile.low),
        half_range=half,
        c=c,
        keys=keys,
        vol_keys=(_mix_int(root ^ 0x1111), _mix_int(root ^ 0x2222)),
        trend_key=_mix_int(root ^ 0x3333),
        wick_key=_mix_int(root ^ 0x4444),
        volume_key=_mix_int(root ^ 0x5555),
        amplitudes=tuple(amps),
        volume_per_second=profile.notional / math.sqrt(profile.high * profile.low) / 86400.0,
    )


def _octaves(m: _Model, t_min: np.ndarray, octaves: range) -> np.ndarray:
    acc = np.zeros_like(t_min)
    for k in octaves:
        n = _noise(t_min, m.keys[k], k)
        n *= m.amplitudes[k]
        acc += n
    return acc


def _log_path(m: _Model, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Log price at ascending float epoch seconds ``t`` and the volatility envelope there."""
    t_min = t / 60.0
    k1, k2 = m.vol_keys
    env = _noise(t_min, k1, 12)
    env *= 0.65
    env += 0.55 * _noise(t_min, k2, 14)
    np.exp(env, out=env)
    trend = _noise(t_min, m.trend_key, 15)
    trend *= 0.75
    np.exp(trend, out=trend)
    x = _octaves(m, t_min, range(VOL_ENV_TOP + 1))
    x *= env
    mid = _octaves(m, t_min, TREND_OCTAVES)
    mid *= trend
    x += mid
    x += _octaves(m, t_min, range(TREND_OCTAVES.stop, N_OCTAVES))
    r = m.half_range
    x *= 1.0 / r
    np.tanh(x, out=x)
    x *= r
    x += m.centre
    return x, env


def samples_per_bar(tf_s: int) -> int:
    """Path samples per bar: ~15 s apart for short bars, at most 24 per bar."""
    return max(1, min(tf_s // 15, 24))


def bars(symbol: str, tf_s: int, last_open_s: int, limit: int, seed: int) -> pd.DataFrame:
    """``limit`` bars of ``tf_s`` seconds ending with the bar that opens at ``last_open_s``."""
    m = _model(seed, sim_base(symbol))
    n = int(limit)
    first = int(last_open_s) - (n - 1) * tf_s
    per = samples_per_bar(tf_s)
    step = tf_s / per
    t = np.arange(n * per + 1, dtype=np.float64) * step + float(first)
    logp, env = _log_path(m, t)
    grid = logp[: n * per].reshape(n, per)
    log_open = grid[:, 0]
    log_close = logp[per::per]
    hi = np.maximum(grid.max(axis=1), log_close)
    lo = np.minimum(grid.min(axis=1), log_close)

    opens = first + np.arange(n, dtype=np.int64) * tf_s
    bar_env = env[: n * per : per]
    sub_sigma = m.c * bar_env * math.sqrt(step)  # typical move between two samples
    tf_key = _mix_int(m.wick_key ^ tf_s)
    wick_up = sub_sigma * (0.1 + 0.9 * _unit(tf_key, opens) ** 2)
    wick_dn = sub_sigma * (0.1 + 0.9 * _unit(tf_key ^ 0x77, opens) ** 2)

    vkey = _mix_int(m.volume_key ^ tf_s)
    z = (
        _unit(vkey, opens)
        + _unit(vkey ^ 1, opens)
        + _unit(vkey ^ 2, opens)
        + _unit(vkey ^ 3, opens)
        - 2.0
    ) * math.sqrt(3.0)
    bar_sigma = m.c * bar_env * math.sqrt(tf_s)
    activity = 0.6 + 0.8 * np.abs(log_close - log_open) / bar_sigma
    volume = m.volume_per_second * tf_s * bar_env**1.3 * np.exp(0.45 * z) * activity

    return make_frame(
        opens * 1000,
        np.exp(log_open),
        np.exp(hi + wick_up),
        np.exp(lo - wick_dn),
        np.exp(log_close),
        volume,
    )


def price(symbol: str, now_s: float, seed: int) -> float:
    """Path value at ``now_s``: continuous, equal to the last 1m close on a minute boundary."""
    m = _model(seed, sim_base(symbol))
    logp, _ = _log_path(m, np.array([float(now_s)]))
    return float(np.exp(logp[0]))


def funding_rate(symbol: str, now_s: float, seed: int) -> float:
    """Hourly perp funding rate: small (|r| <= 0.0005), deterministic, slowly varying."""
    m = _model(seed, sim_base(symbol))
    t = np.array([float(now_s)])
    key = _mix_int(m.trend_key ^ 0xF00D)
    t_min = t / 60.0
    raw = 1.25e-5 + 1.5e-4 * _noise(t_min, key, 9) + 1.0e-4 * _noise(t_min, key ^ 1, 12)
    return float(np.clip(raw[0], -5e-4, 5e-4))
