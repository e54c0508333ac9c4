"""``restart: true`` against a real daemon on the simulated market (examples/offline.json in a
temp dir): add-strategy through the API, the daemon drains, re-executes itself in place (same
pid, same argv), and comes back with the new strategy in /status and the others' books intact."""

from __future__ import annotations

import http.client
import json
import socket
import time

from conftest import REPO, Daemon, base_env, free_port


def post(d: Daemon, path: str, body: object) -> tuple[int, dict]:
    headers = {
        "Host": f"127.0.0.1:{d.port}",
        "Content-Type": "application/json",
        "Origin": f"http://127.0.0.1:{d.port}",
        "Authorization": f"Bearer {d.token}",
    }
    conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=60)
    try:
        conn.request("POST", path, body=json.dumps(body).encode(), headers=headers)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"{}")
    finally:
        conn.close()


def datagrams(sock: socket.socket) -> list[str]:
    out = []
    while True:
        try:
            out.append(sock.recv(4096).decode())
        except TimeoutError:
            return out


def books(status: dict, ids: list[str]) -> dict:
    """What a restart must not touch: cash, positions and trade counts."""
    return {
        sid: (v["cash"], json.dumps(v["positions"], sort_keys=True), v.get("trade_count"))
        for sid, v in status["strategies"].items()
        if sid in ids
    }


def test_add_strategy_with_restart_comes_back_with_it(tmp_path):
    doc = json.loads((REPO / "examples" / "offline.json").read_text())
    doc["strategies"] = doc["strategies"][:2]
    doc["db_file"] = str(tmp_path / "state.db")
    doc["interval_seconds"] = 3600
    for s in doc["strategies"]:
        s["interval_seconds"] = 3600
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(doc, indent=2))
    ids = [s["id"] for s in doc["strategies"]]
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)  # systemd's Type=notify socket
    notify.bind(str(tmp_path / "notify.sock"))
    notify.settimeout(0.2)
    env = base_env(tmp_path, NOTIFY_SOCKET=str(tmp_path / "notify.sock"))
    d = Daemon(cfg, env, free_port(), tmp_path / "daemon.log")
    try:
        first = d.wait_status(lambda s: s["cycle_count"] >= 1 and not s["cycle_in_progress"])
        pid = d.get("/health")[1]["pid"]
        params = {"name": "sma", "platform": "binanceus", "asset": "BTC", "restart": True}
        code, conf = post(
            d, "/api/confirm", {"action": "add-strategy", "strategy_id": "", "params": params}
        )
        assert code == 200 and conf["confirm_phrase"] == "sma-BTC", conf
        code, out = post(d, "/api/config/add-strategy", {"nonce": conf["nonce"], "params": params})
        assert code == 200, out
        assert out["ok"] and out["restarting"] is True and out["id"] == "sma-BTC"
        back = d.wait_status(lambda s: "sma-BTC" in s["strategies"], timeout=90)
        assert books(back, ids) == books(first, ids)
        assert d.get("/health")[1]["pid"] == pid  # re-executed in place: systemd keeps its pid
        log = d.log()
        assert "[restart]" in log and "[restart] exec" in log
        assert log.count("[status] http://127.0.0.1") == 2  # the port was bound again
        assert "sma-BTC" in [s["id"] for s in json.loads(cfg.read_text())["strategies"]]
        heads: list[str] = []
        deadline = time.time() + 60  # the second READY=1 follows the new process's first cycle
        while heads.count("READY=1") < 2 and time.time() < deadline:
            heads += [m.splitlines()[0] for m in datagrams(notify)]
        wanted = [h for h in heads if h in ("READY=1", "RELOADING=1", "STOPPING=1")]
        assert wanted == ["READY=1", "RELOADING=1", "READY=1"], heads  # READY again after exec
        assert d.stop() == 0  # the re-executed daemon stops as usual
    finally:
        notify.close()
        if d.proc.poll() is None:
            d.stop()
