"""Upstream's "IV rank": the min-max rank of 14-day realized vol over ~90 daily closes
(upstream-options §2.5), checked against a computation written out here with the statistics
module; and the implied-vol rank offered beside it."""

from __future__ import annotations

import math
import random
import statistics

import pytest

from shared_strategies.options import vol


def hand_rank(closes, periods=365.0):
    rets = [math.log(b / a) for a, b in zip(closes, closes[1:], strict=False)]
    windows = [
        statistics.pstdev(rets[i - 14 : i]) * math.sqrt(periods) * 100
        for i in range(14, len(rets) + 1)
    ]
    cur = windows[-1]
    lo, hi = min(windows), max(windows)
    rank = 50.0 if hi == lo else round(min(max((cur - lo) / (hi - lo) * 100, 0), 100), 1)
    return round(cur / 100, 4), rank, len(windows)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rank_equals_the_hand_computation(seed):
    rng = random.Random(seed)
    closes = [100.0]
    for _ in range(89):
        closes.append(closes[-1] * math.exp(rng.gauss(0, 0.03)))
    v, rank, n = hand_rank(closes)
    assert n == 76  # 90 closes -> 89 returns -> 76 windows of 14
    assert vol.realized_vol_rank(closes) == (v, rank)
    assert vol.realized_vol(closes) == pytest.approx(
        statistics.pstdev(
            [math.log(b / a) for a, b in zip(closes[-15:], closes[-14:], strict=False)]
        )
        * math.sqrt(365)
    )


def test_alternating_returns_give_their_size_and_the_burst_ranks_100():
    r = math.log(1.05)
    quiet = [100.0 * (1.005 if k % 2 else 1.0) for k in range(75)]
    burst = [100.0 * (1.05 if k % 2 else 1.0) for k in range(15)]
    v, rank = vol.realized_vol_rank(quiet + burst)
    assert v == round(r * math.sqrt(365), 4)  # 14 alternating +-r returns: std r exactly
    assert rank == 100.0


def test_flat_range_and_short_history_fall_back_as_upstream():
    flat = [100.0 * (1.01 if k % 2 else 1.0) for k in range(90)]
    assert vol.realized_vol_rank(flat)[1] == 50.0  # max == min
    assert vol.realized_vol_rank([100.0] * 14) == (0.60, 50.0)  # 13 returns
    assert vol.realized_vol_rank([], "robinhood") == (0.30, 50.0)
    assert vol.realized_vol_rank([100.0, 0.0] * 10) == (0.60, 50.0)  # unusable close


def test_robinhood_annualizes_by_trading_days():
    closes = [100.0 * (1.01 if k % 2 else 1.0) for k in range(40)]
    crypto, _ = vol.realized_vol_rank(closes, "deribit")
    equity, _ = vol.realized_vol_rank(closes, "robinhood")
    assert crypto == round(math.log(1.01) * math.sqrt(365), 4)
    assert equity == round(math.log(1.01) * math.sqrt(252), 4)


def test_implied_rank_is_offered_and_says_so():
    closes = [100.0 * (1.01 if k % 2 else 1.0) for k in range(90)]
    hist = [0.5, 0.9, 0.6, 0.7, 0.8]
    assert vol.implied_vol_rank(hist) == 75.0  # (0.8 - 0.5) / (0.9 - 0.5)
    assert vol.vol_metrics(closes, "deribit", source="implied", implied_history=hist)[1:] == (
        75.0,
        "implied_vol",
    )
    # too little history (a venue without IVs): the realized rank, labelled as such
    assert vol.vol_metrics(closes, "deribit", source="implied", implied_history=hist[:4])[1:] == (
        50.0,
        "realized_vol",
    )
    assert vol.vol_metrics(closes, "deribit")[2] == "realized_vol"
