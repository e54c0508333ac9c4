"""The offline market's candles: the path of :mod:`shared_tools.market.sim_model`, vectorised.

A bar samples the path at ``M`` points (open = x(start), close = x(end), so a bar's open is
the previous close exactly); high/low are the sampled extremes widened by a small hashed wick
standing in for moves below the sampling resolution. Volume is hashed lognormal, scaled with
the local volatility and the bar's own move. The model itself (profiles, keys, amplitudes) and
the scalar price/funding live in ``sim_model``, which needs neither numpy nor pandas.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from shared_tools.market.frames import make_frame
from shared_tools.market.sim_model import (
    DEFAULT_SEED,
    GOLDEN,
    MIX1,
    MIX2,
    N_OCTAVES,
    TREND_OCTAVES,
    VOL_ENV_TOP,
    Model,
    Profile,
    funding_rate,
    mix_int,
    model,
    phase,
    price,
    seed_from_env,
    sim_base,
)

__all__ = [
    "DEFAULT_SEED",
    "Profile",
    "bars",
    "funding_rate",
    "price",
    "samples_per_bar",
    "seed_from_env",
    "sim_base",
]

_C1 = np.uint64(MIX1)
_C2 = np.uint64(MIX2)
_GOLDEN_U = np.uint64(GOLDEN)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)


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
    u = t_min * (2.0**-octave)  # exact: power-of-two scaling
    u += phase(key)
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


def _octaves(m: Model, t_min: np.ndarray, octaves: range) -> np.ndarray:
    acc = np.zeros_like(t_min)
    for k in octaves:
        n = _noise(t_min, m.keys[k], k)
        n *= m.amplitudes[k]
        acc += n
    return acc


def _log_path(m: Model, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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
    m = model(seed, sim_base(symbol))
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
    tf_key = mix_int(m.wick_key ^ tf_s)
    wick_up = sub_sigma * (0.1 + 0.9 * _unit(tf_key, opens) ** 2)
    wick_dn = sub_sigma * (0.1 + 0.9 * _unit(tf_key ^ 0x77, opens) ** 2)

    vkey = mix_int(m.volume_key ^ tf_s)
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
