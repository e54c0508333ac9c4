"""What the idle supervisor holds in memory: the modules made lazy stay out of ``sys.modules``.

The daemon is started as operators start it (``python -m supervisor.cli``, the offline example,
its status server asked for /status), and after its first cycle it lists ``sys.modules``. None of
:data:`LAZY_AT_IDLE` may be there: each was loaded at idle before and is now imported only by
the rare path that needs it (the reason is at the import). This pins the import set, not an RSS
figure: ``bench/chat_bridge.py`` and ``bench/dashboard.py`` measure the memory.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, base_env, free_port, http_get

# module -> who loaded it at idle before, and where it loads now
LAZY_AT_IDLE = {
    # SQLAlchemy's module-level imports: forwarding stand-ins (supervisor/service/lean.py)
    "asyncio": "sqlalchemy.util.concurrency, dialects.sqlite.aiosqlite: only its async engine",
    "importlib.metadata": "sqlalchemy.util.compat: dialect plug-ins found by entry point",
    "email": "importlib.metadata",
    "zipfile": "importlib.metadata",
    "csv": "importlib.metadata",
    "hashlib": "sqlalchemy.util.compat: long identifier truncation",
    # the CLI's rare subcommands (supervisor/cli.py's _LazyGroup)
    "supervisor.ops.init_wizard": "go-trader init",
    "supervisor.ops.init_config": "go-trader init",
    "supervisor.ops.init_options": "go-trader init",
    "supervisor.ops.manual_cli": "go-trader manual-*",
    # only for an error's "did you mean" hint (config/checks.py, check_argv.py)
    "difflib": "unknown key or flag",
    # tempfile only when a config is written (migrate.atomic_write); shutil was argparse's
    # terminal width for the config argv parser (check_argv._FixedWidth)
    "tempfile": "config writes",
    "shutil": "argparse help width, tempfile",
    "bz2": "shutil",
    "lzma": "shutil",
    # the rarely used dashboard routes (supervisor/http/{post,board,ops}.py import them on use)
    "supervisor.http.tuning": "/api/tuning/*",
    "supervisor.http.tuning_apply": "/api/tuning/*, tuning-apply confirm",
    "supervisor.http.cash_api": "clear-cash-reconcile from chat",
    "supervisor.http.audit": "/api/strategies/dead, /api/reports/strategy-audit",
    "supervisor.http.reports": "/api/reports/strategy-audit",
    "supervisor.http.regime_api": "/api/regime/transitions",
    "supervisor.http.notify_api": "/api/config/notifications",
    # the live desk: only for a config with a live or manual strategy (daemon.needs_desk)
    "supervisor.live.desk": "a live or manual strategy",
    "supervisor.live.manual_queue": "a live or manual strategy",
    "supervisor.live.limit_orders": "a live or manual strategy",
    "supervisor.live.reconcile": "a live or manual strategy",
    "supervisor.live.start": "a live strategy (start-up checks)",
    "supervisor.http.structural": "the structural actions (add/remove strategy, paper-to-live, gate)",
    "supervisor.notify.updater": "auto_update on",
}

HARNESS = r"""
import json, os, runpy, sys, threading, time
out, trigger = sys.argv[1], sys.argv[2]
sys.argv = ["go-trader", *sys.argv[3:]]
def dump():
    while not os.path.exists(trigger):
        time.sleep(0.05)
    with open(out + ".tmp", "w") as fh:
        # a stand-in (supervisor/service/lean.py) is not the module: only real ones count
        json.dump(sorted(m for m, v in sys.modules.items() if type(v).__name__ != "_Deferred"), fh)
    os.replace(out + ".tmp", out)
threading.Thread(target=dump, daemon=True).start()
runpy.run_module("supervisor.cli", run_name="__main__", alter_sys=True)
"""


def _offline(tmp_path: Path) -> Path:
    cfg = json.loads((REPO / "examples" / "offline.json").read_text())
    cfg["db_file"] = str(tmp_path / "offline.db")
    path = tmp_path / "offline.json"
    path.write_text(json.dumps(cfg))
    return path


def _idle_modules(tmp_path: Path) -> set[str]:
    port = free_port()
    out, trigger = tmp_path / "modules.json", tmp_path / "dump"
    env = base_env(tmp_path, STATUS_AUTH_TOKEN="t")
    env.pop("GO_TRADER_MARKET_DATA")  # the example's own market_data (simulated)
    argv = ["--config", str(_offline(tmp_path)), "--status-port", str(port)]
    proc = subprocess.Popen(
        [sys.executable, "-c", HARNESS, str(out), str(trigger), *argv],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "no first cycle in time"
            try:
                code, doc = http_get(port, "/status", token="t")
            except OSError:
                code, doc = 0, {}
            if code == 200 and doc.get("cycle_count", 0) >= 1 and not doc["cycle_in_progress"]:
                break
            time.sleep(0.2)
        assert http_get(port, "/health")[0] == 200
        trigger.touch()
        while not out.exists():
            assert time.monotonic() < deadline and proc.poll() is None, "no module list"
            time.sleep(0.05)
        return set(json.loads(out.read_text()))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def test_idle_daemon_holds_none_of_the_lazy_modules(tmp_path):
    modules = _idle_modules(tmp_path)
    assert "supervisor.daemon" in modules and "sqlalchemy.dialects.sqlite" in modules
    loaded = {name: why for name, why in LAZY_AT_IDLE.items() if name in modules}
    assert loaded == {}


# -- the stand-ins SQLAlchemy gets (supervisor/service/lean.py) --------------------------------


def _run(code: str) -> list:
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


def test_stand_ins_load_the_real_module_on_first_use_and_forward():
    got = _run(
        "import json, sys\n"
        "import supervisor\n"
        "from sqlalchemy.util import compat, concurrency\n"
        "before = [m for m in ('asyncio', 'importlib.metadata') if m in sys.modules]\n"
        "before += [type(sys.modules['hashlib']).__name__]\n"
        "digest = compat.md5_not_for_security()\n"
        "digest.update(b'x')\n"
        "cancelled = concurrency.is_exit_exception(concurrency.asyncio.CancelledError())\n"
        "import asyncio, hashlib\n"
        "import importlib.metadata as md\n"
        "print(json.dumps([before, digest.hexdigest() == hashlib.md5(b'x').hexdigest(),\n"
        "    cancelled, concurrency.asyncio.CancelledError is asyncio.CancelledError,\n"
        "    concurrency.iscoroutine(None), md.version('sqlalchemy') != '',\n"
        "    type(sys.modules['asyncio']).__name__, type(sys.modules['hashlib']).__name__,\n"
        "    '_hashlib' in sys.modules]))\n"
    )
    assert got == [["_Deferred"], True, True, True, False, True, "module", "module", False]


def test_a_later_import_of_hashlib_keeps_openssl_out():
    """Jinja2 (chat messages) imports hashlib after SQLAlchemy: it gets the builtin hashes, as
    when SQLAlchemy itself loaded hashlib without OpenSSL."""
    got = _run(
        "import json, sys\n"
        "import supervisor\n"
        "import hashlib\n"
        "from hashlib import sha1\n"
        "print(json.dumps([sha1(b'x').hexdigest()[:8], '_hashlib' in sys.modules]))\n"
    )
    assert got == ["11f6ad8e", False]


def test_a_module_loaded_before_sqlalchemy_is_left_alone():
    got = _run(
        "import json, sys, asyncio\n"
        "import supervisor\n"
        "from sqlalchemy.util import concurrency\n"
        "print(json.dumps([concurrency.asyncio is asyncio]))\n"
    )
    assert got == [True]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt")
def test_malloc_arenas_are_capped_on_glibc():
    from supervisor.service.lean import fewer_malloc_arenas

    assert fewer_malloc_arenas() is (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")


# -- the CLI's lazy subcommands ------------------------------------------------------------------


def test_lazy_subcommands_are_listed_and_resolved():
    from click.testing import CliRunner

    from supervisor.cli import _LazyGroup, main

    listed = main.list_commands(None)  # type: ignore[arg-type]
    assert set(_LazyGroup.LAZY) <= set(listed) and listed == sorted(listed)
    for name in _LazyGroup.LAZY:
        assert main.get_command(None, name).name == name  # type: ignore[arg-type, union-attr]
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert all(name in result.output for name in _LazyGroup.LAZY)


def test_the_rare_actions_names_match_their_modules() -> None:
    """post.py routes the rare actions by name without importing their modules at idle."""
    from supervisor.http import cash_api, post, tuning_apply

    assert post.CASH_ACTION == cash_api.ACTION
    assert post.TUNING_ACTION == tuning_apply.ACTION
    from supervisor.http import structural

    assert post.STRUCTURAL_ACTIONS == structural.ACTIONS
    assert post.RESTART_HOW == structural.RESTART_HOW
