"""The dashboard's cost: idle RSS with it used, /api/strategies/overview latency, first page load.

    .venv/bin/python bench/dashboard.py [--rate 100] [--seconds 10] [--loads 5]

Starts ``python -m supervisor.cli`` on a temp copy of examples/offline.json (simulated market),
waits for the first cycle, then:

(a) idle RSS before the dashboard is used, and again after the page, its files, candles for
    every strategy, the overview and /metrics were each served once (the candle cache and the
    page are then held), after a few seconds idle;
(b) GET /api/strategies/overview paced at --rate req/s for --seconds on keep-alive connections
    (open loop: latency counts from each request's slot); p50/p99/max;
(c) the first page load in headless Chromium (/usr/bin/chromium via Playwright, a fresh context
    each time): from navigation to the first strategy's candles and markers drawn; median of
    --loads. Skipped when Playwright or Chromium is missing.

No asserts: figures for the reader (the issue's targets: RSS <= 42 MiB with the dashboard).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TOKEN = "bench-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CHROMIUM = "/usr/bin/chromium"
QUIET_S = 35.0  # past the status server's WORKER_IDLE_S (30 s): its idle hook has run


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def get(port: int, path: str, auth: bool = True) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers=AUTH if auth else {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def start(workdir: Path, port: int) -> subprocess.Popen:
    cfg = json.loads((REPO / "examples" / "offline.json").read_text())
    cfg["db_file"] = str(workdir / "state.db")
    (workdir / "config.json").write_text(json.dumps(cfg))
    env = {**os.environ, "STATUS_AUTH_TOKEN": TOKEN, "GO_TRADER_OHLCV_CACHE": str(workdir / "o.db")}
    env.pop("GO_TRADER_NOW", None)
    cmd = [sys.executable, "-m", "supervisor.cli", "--config", str(workdir / "config.json")]
    return subprocess.Popen(
        [*cmd, "--status-port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def wait_cycle(port: int, proc: subprocess.Popen, timeout: float = 120) -> list[str]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"daemon exited {proc.returncode}")
        try:
            code, body = get(port, "/status")
            doc = json.loads(body) if code == 200 else {}
            if doc.get("cycle_count", 0) >= 1 and not doc.get("cycle_in_progress"):
                return sorted(doc["strategies"])
        except (OSError, ValueError):
            pass
        time.sleep(0.3)
    raise SystemExit("no cycle in time")


def use_dashboard(port: int, ids: list[str]) -> None:
    for path in ("/dashboard", "/dashboard/app.js", "/dashboard/style.css"):
        get(port, path, auth=False)
    get(port, "/dashboard/vendor/lightweight-charts.standalone.production.js", auth=False)
    get(port, "/api/strategies/overview")
    get(port, "/metrics")
    for sid in ids:
        for res in ("candles?limit=400", "trades?limit=400", "equity?limit=40"):
            get(port, f"/api/strategies/{sid}/{res}")


def paced(port: int, rate: float, seconds: float, clients: int = 4) -> list[float]:
    """Open-loop GETs of the overview at ``rate``/s over ``clients`` keep-alive connections."""
    out: list[float] = []
    lock = threading.Lock()
    n = int(rate * seconds)
    t0 = time.perf_counter() + 0.2

    def client(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for i in range(k, n, clients):
            slot = t0 + i / rate
            delay = slot - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            conn.request("GET", "/api/strategies/overview", headers=AUTH)
            resp = conn.getresponse()
            resp.read()
            with lock:
                out.append(time.perf_counter() - slot)
        conn.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def page_loads(port: int, first: str, loads: int) -> list[float] | str:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return "playwright not installed"
    if not os.path.exists(CHROMIUM):
        return f"{CHROMIUM} missing"
    times = []
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=args)
        for _ in range(loads):
            ctx = browser.new_context()
            page = ctx.new_page()
            t = time.perf_counter()
            page.goto(f"http://127.0.0.1:{port}/dashboard?token={TOKEN}")
            page.wait_for_function(
                "id => document.body.dataset.loaded === id", arg=first, timeout=60_000
            )
            times.append(time.perf_counter() - t)
            ctx.close()
        browser.close()
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=100.0)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--loads", type=int, default=5)
    ns = ap.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-dashboard-"))
    port = free_port()
    proc = start(workdir, port)
    try:
        ids = wait_cycle(port, proc)
        time.sleep(3)
        before = rss_mib(proc.pid)
        use_dashboard(port, ids)
        time.sleep(3)
        after = rss_mib(proc.pid)
        time.sleep(QUIET_S)
        quiet = rss_mib(proc.pid)
        print(
            f"idle RSS: {before:.1f} MiB before the dashboard is used, {after:.1f} MiB 3 s after, "
            f"{quiet:.1f} MiB once nobody looked for {QUIET_S:.0f} s (the status server's idle "
            "hook: expired charts swept, heap trimmed)"
        )
        lat = paced(port, ns.rate, ns.seconds)
        print(
            f"/api/strategies/overview at {ns.rate:.0f} req/s for {ns.seconds:.0f} s "
            f"({len(ids)} strategies, {len(lat)} requests): p50 {pct(lat, 50) * 1e3:.2f} ms, "
            f"p99 {pct(lat, 99) * 1e3:.2f} ms, max {max(lat) * 1e3:.2f} ms"
        )
        print(f"RSS after the load: {rss_mib(proc.pid):.1f} MiB")
        loads = page_loads(port, ids[0], ns.loads)
        if isinstance(loads, str):
            print(f"first page load: skipped ({loads})")
        else:
            print(
                f"first page load in headless Chromium (to candles and markers drawn), "
                f"{len(loads)} fresh contexts: median {statistics.median(loads) * 1e3:.0f} ms, "
                f"max {max(loads) * 1e3:.0f} ms"
            )
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
