"""Status server latency against a live daemon: keep-alive, paced load, a burst; RSS and cycles.

    .venv/bin/python bench/status.py [--rate 500] [--seconds 10] [--interval 300] [--runs 3]

Starts ``python -m supervisor.cli`` on a temp copy of examples/offline.json (simulated market,
DB and OHLCV cache in a temp dir), waits for /health 200 and the first cycle, then measures
GET /status:

(a) sequentially on one keep-alive connection (Nagle + delayed ACK show up here as ~40 ms);
(b) paced at --rate req/s for --seconds, one new connection per request (no keep-alive), from
    several client processes and threads, open loop: each request is sent at its slot, and
    latency counts from that slot, so a slow server cannot hide by slowing the clients down;
(c) a burst of --burst clients connecting at the same instant (listen backlog, thread bound).

Each phase runs --runs times; medians of the per-run figures are printed. No asserts: the
figures are for the reader. The daemon's RSS comes from /proc/<pid>/status, its cycle times
from watching /status (cycle_in_progress / cycle_count). Use --interval 10 to have cycles run
during the load phase.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import multiprocessing
import os
import re
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
CYCLE_LINE = re.compile(r"cycle \d+: \d+ strategies in ([0-9.]+)s")
TOKEN = "bench-token"  # the daemon always requires one (supervisor/http/token.py)
AUTH = {"Authorization": f"Bearer {TOKEN}"}
REQUEST = (
    b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer bench-token\r\n"
    b"Connection: close\r\n\r\n"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(workdir: Path, interval: int) -> Path:
    config = json.loads((REPO / "examples" / "offline.json").read_text())
    config["db_file"] = str(workdir / "bench.db")
    config["market_data"] = "simulated"
    config["interval_seconds"] = max(interval, config.get("interval_seconds", 0))
    for strat in config["strategies"]:
        strat["interval_seconds"] = interval
    path = workdir / "config.json"
    path.write_text(json.dumps(config))
    return path


def rss_mib(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in MiB, from /proc."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM", "Threads"):
            fields[key] = float(rest.split()[0])
    return fields["VmRSS"] / 1024, fields["VmHWM"] / 1024


def openssl_mapped(pid: int) -> bool:
    """Whether libssl/libcrypto (or the _ssl/_hashlib extensions) are mapped into a process."""
    maps = Path(f"/proc/{pid}/maps").read_text()
    return any(name in maps for name in ("libssl", "libcrypto", "_ssl.", "_hashlib."))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def threads_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    return -1


def get_json(port: int, path: str, timeout: float = 5.0) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=AUTH)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"{}")
    finally:
        conn.close()


class CycleWatcher:
    """Poll /status every 50 ms and record how long each cycle_in_progress stretch lasted."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.durations: list[float] = []
        self.count = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        started = None
        while not self._stop.is_set():
            with contextlib.suppress(OSError, ValueError, http.client.HTTPException):
                _, body = get_json(self.port, "/status")
                running = bool(body.get("cycle_in_progress"))
                self.count = body.get("cycle_count", self.count)
                if running and started is None:
                    started = time.perf_counter()
                elif not running and started is not None:
                    self.durations.append(time.perf_counter() - started)
                    started = None
            self._stop.wait(0.05)

    def start(self) -> CycleWatcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def one_request(port: int) -> tuple[float, bool]:
    """One GET /status on a fresh connection; (seconds, ok)."""
    t0 = time.perf_counter()
    ok = False
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            s.sendall(REQUEST)
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
        ok = b"".join(chunks[:1]).startswith(b"HTTP/1.1 200")
    except OSError:
        pass
    return time.perf_counter() - t0, ok


def paced_client(port: int, start_at: float, period: float, count: int, out: list) -> None:
    """Send `count` requests at start_at + i*period; latency counts from each slot (open loop)."""
    for i in range(count):
        slot = start_at + i * period
        delay = slot - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        _, ok = one_request(port)
        out.append((time.perf_counter() - slot, ok))


def load_process(port: int, start_at: float, period: float, count: int, threads: int, q) -> None:
    """One client process: `threads` paced threads, staggered so the process sends every period/threads."""
    results: list = []
    workers = [
        threading.Thread(
            target=paced_client,
            args=(port, start_at + k * period / threads, period, count, results),
        )
        for k in range(threads)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    q.put(results)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else float("nan")


def keepalive_run(port: int, n: int) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    lat = []
    for _ in range(n):
        t0 = time.perf_counter()
        conn.request("GET", "/status", headers=AUTH)
        resp = conn.getresponse()
        resp.read()
        lat.append(time.perf_counter() - t0)
    conn.close()
    return {"p50": pct(lat, 50), "p99": pct(lat, 99), "max": max(lat), "errors": 0}


def load_run(port: int, rate: float, seconds: float, procs: int, threads: int) -> dict:
    senders = procs * threads
    period = senders / rate  # each sender's gap between requests
    count = max(1, int(seconds / period))
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    start_at = time.perf_counter() + 0.5
    workers = [
        ctx.Process(
            target=load_process,
            args=(port, start_at + p * period / senders, period, count, threads, q),
        )
        for p in range(procs)
    ]
    for w in workers:
        w.start()
    results = [r for _ in workers for r in q.get()]
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - start_at
    lat = [r[0] for r in results]
    return {
        "p50": pct(lat, 50),
        "p99": pct(lat, 99),
        "max": max(lat),
        "rate": len(results) / elapsed,
        "errors": sum(not ok for _, ok in results),
    }


def burst_run(port: int, clients: int) -> dict:
    """`clients` threads connect at the same instant, one request each."""
    gate = threading.Barrier(clients)
    results: list = []

    def go() -> None:
        gate.wait()
        results.append(one_request(port))

    workers = [threading.Thread(target=go) for _ in range(clients)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    lat = [r[0] for r in results]
    return {
        "p50": pct(lat, 50),
        "p99": pct(lat, 99),
        "max": max(lat),
        "errors": sum(not ok for _, ok in results),
    }


def median_of(runs: list[dict]) -> dict:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def ms(x: float) -> str:
    return f"{x * 1000:.1f} ms"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=500, help="paced load, requests per second")
    ap.add_argument("--seconds", type=float, default=10, help="length of one paced load run")
    ap.add_argument("--procs", type=int, default=4, help="client processes for the paced load")
    ap.add_argument("--threads", type=int, default=8, help="threads per client process")
    ap.add_argument("--burst", type=int, default=200, help="clients in the burst phase")
    ap.add_argument("--keepalive", type=int, default=300, help="requests in the keep-alive phase")
    ap.add_argument("--interval", type=int, default=300, help="strategy interval_seconds")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--settle", type=float, default=32, help="wait, then RSS again (0 to skip)")
    args = ap.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="go-trader-bench-status-"))
    port = free_port()
    config = write_config(workdir, args.interval)
    env = {k: v for k, v in os.environ.items() if k != "STATUS_AUTH_TOKEN"}
    env["STATUS_AUTH_TOKEN"] = TOKEN
    env.update(
        GO_TRADER_MARKET_DATA="simulated",
        GO_TRADER_OHLCV_CACHE=str(workdir / "ohlcv.db"),
        PYTHONUNBUFFERED="1",
    )
    log_path = workdir / "daemon.log"
    launched = time.perf_counter()
    with open(log_path, "wb") as log:
        daemon = subprocess.Popen(
            [sys.executable, "-m", "supervisor.cli", "--config", str(config)]
            + ["--status-port", str(port)],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        answer_at = health_at = first_cycle_at = None
        deadline = time.perf_counter() + 120
        while time.perf_counter() < deadline and first_cycle_at is None:
            if daemon.poll() is not None:
                raise SystemExit(f"daemon exited {daemon.returncode}:\n{log_path.read_text()}")
            with contextlib.suppress(OSError, ValueError, http.client.HTTPException):
                if health_at is None:
                    code, _ = get_json(port, "/health", timeout=1)
                    answer_at = answer_at or time.perf_counter() - launched
                    if code == 200:
                        health_at = time.perf_counter() - launched
                else:
                    code, body = get_json(port, "/status", timeout=1)
                    if code == 200 and body.get("cycle_count", 0) >= 1:
                        first_cycle_at = time.perf_counter() - launched
            time.sleep(0.01)
        if first_cycle_at is None:
            raise SystemExit(f"no first cycle within 120 s:\n{log_path.read_text()}")
        time.sleep(1.0)  # let the process settle after the cycle's workers exit
        idle_rss, _ = rss_mib(daemon.pid)
        print(
            f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, median of {args.runs} runs; "
            f"daemon pid {daemon.pid}, port {port}, 14 strategies, interval {args.interval} s"
        )
        print(
            f"launch -> first /health answer: {answer_at:.2f} s, /health 200: {health_at:.2f} s, "
            f"first cycle done: {first_cycle_at:.2f} s"
        )
        print(
            f"idle RSS {idle_rss:.1f} MiB, threads {threads_of(daemon.pid)}, "
            f"OpenSSL mapped: {'yes' if openssl_mapped(daemon.pid) else 'no'}"
        )
        watcher = CycleWatcher(port).start()

        ka = median_of([keepalive_run(port, args.keepalive) for _ in range(args.runs)])
        print(
            f"(a) keep-alive, sequential x{args.keepalive}: p50 {ms(ka['p50'])}, "
            f"p99 {ms(ka['p99'])}, max {ms(ka['max'])}"
        )
        cpu0 = cpu_seconds(daemon.pid)
        loads = [
            load_run(port, args.rate, args.seconds, args.procs, args.threads)
            for _ in range(args.runs)
        ]
        requests = sum(r["rate"] for r in loads) * args.seconds  # ~ requests served
        cpu_per_request = (cpu_seconds(daemon.pid) - cpu0) / max(requests, 1)
        load = median_of(loads)
        print(
            f"(b) paced {args.rate:.0f} req/s x {args.seconds:.0f} s, new connection each: "
            f"achieved {load['rate']:.0f} req/s, p50 {ms(load['p50'])}, p99 {ms(load['p99'])}, "
            f"max {ms(load['max'])}, errors {load['errors']:.0f}; daemon CPU "
            f"{cpu_per_request * 1e6:.0f} us per request"
        )
        burst = median_of([burst_run(port, args.burst) for _ in range(args.runs)])
        print(
            f"(c) burst of {args.burst} concurrent clients: p50 {ms(burst['p50'])}, "
            f"p99 {ms(burst['p99'])}, max {ms(burst['max'])}, errors {burst['errors']:.0f}"
        )
        watcher.stop()
        rss, hwm = rss_mib(daemon.pid)
        print(
            f"daemon after the load: RSS {rss:.1f} MiB (peak {hwm:.1f}), "
            f"threads {threads_of(daemon.pid)}"
        )
        if args.settle > 0:
            time.sleep(args.settle)
            print(
                f"daemon {args.settle:.0f} s later (idle handler threads retired): "
                f"RSS {rss_mib(daemon.pid)[0]:.1f} MiB, threads {threads_of(daemon.pid)}"
            )
        logged = [float(x) for x in CYCLE_LINE.findall(log_path.read_text(errors="replace"))]
        seen = watcher.durations
        print(
            f"cycles: {len(logged)} logged, durations {', '.join(f'{x:.1f}' for x in logged)} s; "
            f"{len(seen)} overlapped the latency phases"
            + (f" (median {statistics.median(seen):.2f} s as seen on /status)" if seen else "")
        )
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(30)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
