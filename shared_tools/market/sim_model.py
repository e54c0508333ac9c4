"""The offline market's model: a price path that is a pure function of (seed, symbol, time).

Why a pure function instead of a random walk with state: every worker process, the demo and
every test must see the *same* bar for the same (symbol, timeframe, open time) without sharing
files, and the series must keep moving forward with the clock. So the log price is a sum of
value-noise octaves evaluated directly at a timestamp::

    x(t)   = sum_k a_k * g_k(t) * noise_k(t)          k = 0..20, grid spacing 60 s * 2**k
    log p  = centre + R * tanh(x / R)                 R = half the symbol's log price range

* ``noise_k`` smoothly (smoothstep) interpolates hashed uniform values on a grid; the hash is a
  counter-based splitmix64 of (seed, symbol, octave, grid index): no RNG state, O(octaves) per
  timestamp.
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

This module is the model (profiles, per-symbol keys and amplitudes) and the path at one instant
in plain Python, which is all a price or a funding rate needs: the price path imports neither
numpy nor pandas. :mod:`shared_tools.market.simulated` evaluates the same path vectorised with
numpy for candles; the two agree to float rounding (numpy's ``tanh`` is not libm's).
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from functools import lru_cache

from shared_tools.market.common import ENV_SEED

DEFAULT_SEED = 42

MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
MIX1 = 0xBF58476D1CE4E5B9
MIX2 = 0x94D049BB133111EB

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


def mix_int(x: int) -> int:
    """Scalar splitmix64 (Python ints) for deriving per-stream keys."""
    z = (x + GOLDEN) & MASK
    z = ((z ^ (z >> 30)) * MIX1) & MASK
    z = ((z ^ (z >> 27)) * MIX2) & MASK
    return z ^ (z >> 31)


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
class Model:
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
def model(seed: int, base: str) -> Model:
    profile = _PROFILES.get(base)
    sym = _hash_text(base)
    if profile is None:  # unknown symbol: a stable hashed price level between 10 and 500
        u = (mix_int(sym ^ 0xA5A5) >> 11) * 2.0**-53
        mid = math.exp(math.log(10) + u * (math.log(500) - math.log(10)))
        profile = Profile(base, mid / 2.5, mid * 2.5, 0.045, 2e7)
    root = mix_int((seed & MASK) ^ mix_int(sym))
    keys = tuple(mix_int(root + 1 + k) for k in range(N_OCTAVES))
    half = 0.5 * math.log(profile.high / profile.low)
    c = profile.daily_vol / (_CAL * math.sqrt(86400.0))
    amps = []
    for k in range(N_OCTAVES):
        brownian = c * math.sqrt(BASE_SPACING * 2.0**k)
        if k in _RANGE_SHARE:  # months to years: sized by the price range, not the volatility
            amps.append(_RANGE_SHARE[k] * half)
        else:  # capped so that volatile symbols with narrow ranges don't pin to the bounds
            amps.append(min(brownian, _BROWNIAN_CAP.get(k, math.inf) * half))
    return Model(
        centre=0.5 * math.log(profile.high * profile.low),
        half_range=half,
        c=c,
        keys=keys,
        vol_keys=(mix_int(root ^ 0x1111), mix_int(root ^ 0x2222)),
        trend_key=mix_int(root ^ 0x3333),
        wick_key=mix_int(root ^ 0x4444),
        volume_key=mix_int(root ^ 0x5555),
        amplitudes=tuple(amps),
        volume_per_second=profile.notional / math.sqrt(profile.high * profile.low) / 86400.0,
    )


def phase(key: int) -> float:
    """Hashed offset of a noise stream's grid, so the grids of different octaves never line up."""
    return (mix_int(key ^ 0x5DEECE66D) >> 11) * 2.0**-53


def _hash1(key: int, idx: int) -> int:
    """Counter-based splitmix64 of (key, idx): the scalar twin of the vectorised hash."""
    z = (((idx & MASK) * GOLDEN) + key) & MASK
    z ^= z >> 30
    z = (z * MIX1) & MASK
    z ^= z >> 27
    z = (z * MIX2) & MASK
    return z ^ (z >> 31)


def _uniform1(key: int, idx: int) -> float:
    """Hashed uniform in [-1, 1)."""
    return float(_hash1(key, idx) >> 11) * (2.0**-52) - 1.0


def noise1(t_min: float, key: int, octave: int) -> float:
    """Smooth value noise on a grid of 60 s * 2**octave at epoch minute ``t_min``."""
    u = t_min * (2.0**-octave) + phase(key)
    i = math.floor(u)
    f = u - i
    v0 = _uniform1(key, i)
    v1 = _uniform1(key, i + 1)
    w = (f * -2.0 + 3.0) * f * f  # smoothstep 3f^2 - 2f^3
    return (v1 - v0) * w + v0


def _octaves1(m: Model, t_min: float, octaves: range) -> float:
    acc = 0.0
    for k in octaves:
        acc += noise1(t_min, m.keys[k], k) * m.amplitudes[k]
    return acc


def log_price_at(m: Model, t: float) -> float:
    """Log price of the path at epoch seconds ``t`` (same formula as the candles)."""
    t_min = t / 60.0
    k1, k2 = m.vol_keys
    env = math.exp(noise1(t_min, k1, 12) * 0.65 + 0.55 * noise1(t_min, k2, 14))
    trend = math.exp(noise1(t_min, m.trend_key, 15) * 0.75)
    x = _octaves1(m, t_min, range(VOL_ENV_TOP + 1)) * env
    x += _octaves1(m, t_min, TREND_OCTAVES) * trend
    x += _octaves1(m, t_min, range(TREND_OCTAVES.stop, N_OCTAVES))
    r = m.half_range
    return math.tanh(x * (1.0 / r)) * r + m.centre


def price(symbol: str, now_s: float, seed: int) -> float:
    """Path value at ``now_s``: continuous; on a minute boundary the last 1m close (to rounding)."""
    return math.exp(log_price_at(model(seed, sim_base(symbol)), float(now_s)))


def funding_rate(symbol: str, now_s: float, seed: int) -> float:
    """Hourly perp funding rate: small (|r| <= 0.0005), deterministic, slowly varying."""
    m = model(seed, sim_base(symbol))
    key = mix_int(m.trend_key ^ 0xF00D)
    t_min = float(now_s) / 60.0
    raw = 1.25e-5 + 1.5e-4 * noise1(t_min, key, 9) + 1.0e-4 * noise1(t_min, key ^ 1, 12)
    return min(max(raw, -5e-4), 5e-4)
