"""backtest.reporter: the text tables, the JSON document and the self-contained HTML page."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pandas as pd
from test_backtest_metrics import CURVE, make_result

from backtest import reporter
from backtest.metrics import KEYS, metrics
from backtest.optimizer import Fold, WalkForwardResult

T = pd.Timestamp


def sample(n_trades: int = 2):
    trades = [
        (
            T("2024-01-01 00:00", tz="UTC") + pd.Timedelta(days=i),
            T("2024-01-02 00:00", tz="UTC") + pd.Timedelta(days=i),
            "long" if i % 2 == 0 else "short",
            100.0 + i,
            110.0 + i,
            1.5,
            0.21,
            14.79 if i % 2 == 0 else -3.5,
            "signal",
        )
        for i in range(n_trades)
    ]
    return make_result(
        CURVE,
        position=[1.0, 1.0, 0.0, 0.0, 1.0],
        closes=[100.0, 90.0, 99.0, 99.0, 108.9],
        trades=trades,
    )


def test_text_report_lists_every_metric_and_the_first_trades():
    r = sample(25)
    text = reporter.text_report(r, metrics(r))
    for _, label in reporter.LABELS:
        assert label in text
    assert "+19.79%" in text  # total return
    assert "-10.00%" in text  # max drawdown
    assert "first 20 of 25" in text
    assert "2024-01-01T00:00:00Z" in text
    assert "2024-01-22T00:00:00Z" not in text  # trade 21 (exit 01-22) is not printed
    assert "roc_period=14" in text


def test_undefined_metrics_print_na():
    r = make_result([1000.0, 1000.0])
    text = reporter.text_report(r, metrics(r))
    sharpe_line = next(line for line in text.splitlines() if line.startswith("Sharpe"))
    assert sharpe_line.split()[-1] == "n/a"
    assert "No trades." in text


def test_json_document_shape_and_times():
    r = sample(3)
    m = metrics(r)
    doc = reporter.json_document(r, m)
    assert {"metrics", "trades", "final_equity"} <= set(doc)
    assert set(doc["metrics"]) == set(KEYS)
    assert doc["final_equity"] == r.final_equity
    assert doc["metrics"]["sortino"] == m["sortino"]
    assert len(doc["trades"]) == 3
    t = doc["trades"][1]
    assert t["entry_time"] == "2024-01-02T00:00:00Z" and t["exit_time"] == "2024-01-03T00:00:00Z"
    assert t["side"] == "short" and t["pnl"] == -3.5 and t["quantity"] == 1.5
    for key in ("entry_price", "exit_price", "quantity", "fee", "pnl"):
        assert isinstance(t[key], float)
    assert doc["start"] == "2024-01-01T00:00:00Z" and doc["end"] == "2024-01-05T00:00:00Z"
    json.dumps(doc, allow_nan=False)  # NaN would raise


def test_json_document_turns_nan_into_null():
    r = make_result([1000.0, 1000.0])
    doc = reporter.json_document(r, {**metrics(r), "sharpe": float("nan")})
    assert doc["metrics"]["sharpe"] is None
    json.dumps(doc, allow_nan=False)


def test_html_is_self_contained_and_well_formed():
    r = sample(4)
    page = reporter.html_report(r, metrics(r))
    assert "http" not in page.lower()
    assert "<script" not in page.lower()
    assert "javascript" not in page.lower()
    root = ET.fromstring(page.split("\n", 1)[1])  # drop <!DOCTYPE html>; the rest is XML
    svgs = root.findall(".//svg")
    assert len(svgs) == 2
    equity_points = svgs[0].findall("polyline")[-1].get("points").split()
    assert len(equity_points) == len(r.equity)
    trade_rows = [tr for tr in root.iter("tr") if tr.find("td") is not None]
    assert len(trade_rows) == len(reporter.LABELS) + 4
    assert "+19.79%" in page


def test_html_escapes_text():
    r = sample(1)
    r.strategy = "<b>x</b>"
    page = reporter.html_report(r, metrics(r))
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page


def test_html_thins_long_curves():
    n = 5000
    r = make_result([1000.0 + i % 50 for i in range(n)], timeframe="1h")
    page = reporter.html_report(r, metrics(r))
    points = re.search(r'stroke="#1f5fbf"[^>]*points="([^"]*)"', page).group(1).split()
    assert len(points) <= reporter.CHART_POINTS + 1


def test_comparison_table_sorted_by_sharpe_with_na_last():
    rows = [
        {"strategy": "a", "symbol": "BTC/USDT", "sharpe": 0.5, "total_return_pct": 3.0},
        {"strategy": "b", "symbol": "BTC/USDT", "sharpe": None, "total_return_pct": -1.0},
        {"strategy": "c", "symbol": "BTC/USDT", "sharpe": 1.5, "total_return_pct": 10.0},
        {"strategy": "d", "symbol": "BTC/USDT", "error": "no candles"},
    ]
    text = reporter.comparison_table(rows)
    order = [line.split()[0] for line in text.splitlines()[2:5]]
    assert order == ["c", "a", "b"]
    assert "Best return +10.00% (c BTC/USDT)" in text
    assert "mean return +4.00%" in text and "mean Sharpe 1.00" in text
    assert "FAILED d BTC/USDT: no candles" in text


def test_comparison_table_limit():
    rows = [{"strategy": f"s{i}", "sharpe": float(i), "total_return_pct": 1.0} for i in range(12)]
    text = reporter.comparison_table(rows, limit=10)
    assert "s11" in text and "s1 " not in text
    assert "(top 10 of 12 by Sharpe)" in text


def _fold(k, is_ret, oos_ret, oos_sharpe, params):
    day = pd.Timedelta(days=10 * k)
    return Fold(
        index=k,
        train=(T("2024-01-01", tz="UTC") + day, T("2024-01-07", tz="UTC") + day),
        test=(T("2024-01-08", tz="UTC") + day, T("2024-01-10", tz="UTC") + day),
        train_bars=144,
        test_bars=72,
        best_params=params,
        in_sample={"total_return_pct": is_ret, "sharpe": 2.0},
        out_of_sample={
            "total_return_pct": oos_ret,
            "sharpe": oos_sharpe,
            "max_drawdown_pct": -4.0,
            "trade_count": 3,
        },
    )


def test_walk_forward_table_puts_out_of_sample_beside_in_sample():
    wf = WalkForwardResult(
        strategy="momentum",
        metric="sharpe",
        folds=[_fold(1, 12.0, -2.5, None, {"roc_period": 10}), _fold(2, 8.0, 1.5, 0.75, {})],
        summary={
            "folds": 2,
            "oos_mean_return_pct": -0.5,
            "oos_median_return_pct": -0.5,
            "oos_mean_sharpe": 0.75,
            "oos_worst_drawdown_pct": -4.0,
            "oos_total_trades": 6,
            "is_mean_return_pct": 10.0,
            "is_mean_sharpe": 2.0,
            "most_common_params": {"roc_period": 10},
            "most_common_count": 1,
        },
        skipped=["fold 3: 20 bars < 50"],
    )
    text = reporter.walk_forward_table(wf)
    lines = text.splitlines()
    header = lines[0].split()
    assert header.index("IS") < header.index("OOS")  # "IS return" left of "OOS return"
    row1 = lines[2].split()
    assert row1[:4] == ["1", "2024-01-11..2024-01-17", "2024-01-18..2024-01-20", "roc_period=10"]
    assert row1[4:8] == ["+12.00%", "-2.50%", "2.00", "n/a"]
    assert lines[3].split()[3] == "defaults"
    assert "skipped fold 3: 20 bars < 50" in text
    assert "mean return    -0.50%  (in-sample +10.00%)" in text
    assert "mean Sharpe    0.75  (in-sample 2.00)" in text
    assert "most common best params: roc_period=10 (1 of 2 folds)" in text
    # the optimizer's own JSON form reads the same
    assert reporter.walk_forward_table(wf.to_dict()) == text
