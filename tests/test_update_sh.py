"""scripts/update.sh end to end, in signal mode, against a local bare remote.

A temp clone of this repo (with the working tree's files on top, so the code under test is what
runs) is pushed to a bare remote; a deployment is cloned from it, shares this venv through a
``.venv`` symlink, and runs the supervisor on the simulated market via a generated run.sh.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from conftest import REPO, base_env, free_port, http_get

VENV = Path(sys.prefix)  # the venv running the tests; deployments in tmp share it


def checkout_problem() -> str:
    """Why a deployment cannot be simulated here ("" when it can)."""
    if not (REPO / ".git").exists():
        return "the repo under test is no git checkout"
    missing = [t for t in ("git", "flock", "setsid") if shutil.which(t) is None]
    if missing:
        return f"needs {', '.join(missing)}"
    if not (VENV / "bin" / "go-trader").exists():
        return "the tests do not run from the project's venv (no bin/go-trader)"
    return ""


FAILING_PROBE = (
    'if "--probe-only" in sys.argv:  # deploy test: this commit fails its probe\n    sys.exit(3)\n'
)


def git(cwd: Path, *args: str) -> str:
    out = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60, env=git_env(cwd)
    )
    assert out.returncode == 0, f"git {' '.join(args)}: {out.stderr}"
    return out.stdout.strip()


def git_env(cwd: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@example.invalid",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@example.invalid",
        GIT_CONFIG_NOSYSTEM="1",
        GIT_TERMINAL_PROMPT="0",
    )
    return env


def overlay_working_tree(dest: Path) -> None:
    """Make ``dest`` (a clone of REPO) hold REPO's working tree: the code under test."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        timeout=60,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        src, dst = REPO / name, dest / name
        if src.is_file() and not src.is_symlink():
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
        elif not src.exists() and dst.exists():
            dst.unlink()


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD")


class Checkout:
    """seed (where commits are made) -> remote.git (bare) -> deploy (what update.sh updates)."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.seed, self.remote, self.deploy = tmp / "seed", tmp / "remote.git", tmp / "deploy"
        git(tmp, "clone", "--quiet", "--no-hardlinks", str(REPO), str(self.seed))
        overlay_working_tree(self.seed)
        self.base = commit_all(self.seed, "snapshot of the working tree")
        git(tmp, "init", "--quiet", "--bare", "--initial-branch=main", str(self.remote))
        git(self.seed, "push", "--quiet", str(self.remote), "HEAD:refs/heads/main")
        git(tmp, "clone", "--quiet", "-b", "main", str(self.remote), str(self.deploy))
        (self.deploy / ".venv").symlink_to(VENV)  # this venv: no install needed

    def push(self, message: str, edit) -> str:
        edit(self.seed)
        sha = commit_all(self.seed, message)
        git(self.seed, "push", "--quiet", str(self.remote), "HEAD:refs/heads/main")
        return sha

    def update(self, env: dict, *args: str, timeout: float = 150) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["bash", str(self.deploy / "scripts" / "update.sh"), *args],
            cwd=self.deploy,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def offline_config(path: Path, db: Path, port: int, n: int = 2) -> Path:
    """examples/offline.json, cut to a few strategies on a 2 s interval."""
    cfg = json.loads((REPO / "examples" / "offline.json").read_text())
    cfg["strategies"] = cfg["strategies"][:n]
    for s in cfg["strategies"]:
        s["interval_seconds"] = 2
    cfg.update(interval_seconds=2, db_file=str(db), status_port=port)
    path.write_text(json.dumps(cfg, indent=2))
    return path


def break_probe(tree: Path) -> None:
    script = tree / "shared_scripts" / "check_strategy.py"
    text = script.read_text()
    assert "\nimport sys\n" in text
    script.write_text(text.replace("\nimport sys\n", "\nimport sys\n\n" + FAILING_PROBE, 1))


def fake_systemctl(tmp: Path) -> Path:
    """A bin dir whose systemctl knows no unit (exit 5 on restart, like a real one)."""
    bin_dir = tmp / "fakebin"
    bin_dir.mkdir(exist_ok=True)
    tool = bin_dir / "systemctl"
    tool.write_text(
        '#!/bin/sh\ncase "$1" in restart) echo "Unit $2 not found." >&2; exit 5 ;; esac\nexit 1\n'
    )
    tool.chmod(0o755)
    return bin_dir


def cannot_start(tree: Path) -> None:
    """The daemon exits 1 at once; ``go-trader probe`` (a subcommand) still passes.

    Wraps the ``go-trader`` entry point (pyproject's ``supervisor_entry:main``) rather than
    editing the CLI's text, so it does not depend on how the CLI is written.
    """
    entry = tree / "supervisor_entry" / "__init__.py"
    entry.write_text(
        entry.read_text()
        + textwrap.dedent(
            """

            _deploy_test_main = main


            def main() -> None:  # deploy test: only subcommands still run
                if "probe" not in sys.argv[1:]:
                    sys.exit(1)
                _deploy_test_main()
            """
        )
    )


def health(port: int) -> tuple[int, dict]:
    try:
        return http_get(port, "/health")
    except (OSError, ValueError):
        return 0, {}


def wait_health(port: int, predicate, timeout: float = 60) -> dict:
    deadline = time.time() + timeout
    last: dict = {}
    while time.time() < deadline:
        code, body = health(port)
        if code == 200:
            last = body
            if predicate(body):
                return body
        time.sleep(0.2)
    raise AssertionError(f"/health never matched; last: {last}")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z")


def stop_pid(pidfile: Path) -> None:
    if not pidfile.exists():
        return
    pid = int(pidfile.read_text().strip() or 0)
    if not pid or not alive(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.time() + 25
    while alive(pid) and time.time() < deadline:
        time.sleep(0.2)
    if alive(pid):
        os.kill(pid, signal.SIGKILL)


def committed_cycles(db: Path) -> int:
    with sqlite3.connect(db, timeout=5) as conn:
        return conn.execute("SELECT cycle_count FROM app_state").fetchone()[0]


@pytest.fixture
def checkout(tmp_path):
    problem = checkout_problem()
    if problem:
        pytest.skip(problem)
    return Checkout(tmp_path)


def test_update_lands_a_good_commit_and_rolls_back_a_failing_probe(checkout, tmp_path):
    port = free_port()
    db = tmp_path / "state.db"
    cfg = offline_config(tmp_path / "config.json", db, port)
    pidfile, log = tmp_path / "go-trader.pid", tmp_path / "signal.log"
    run_sh = checkout.deploy / "run.sh"
    env = base_env(
        tmp_path,
        GO_TRADER_PIDFILE=str(pidfile),
        GO_TRADER_RUN_SH=str(run_sh),
        GO_TRADER_SIGNAL_LOG=str(log),
        HEALTH_TIMEOUT="60",
    )
    made = subprocess.run(
        ["bash", str(checkout.deploy / "scripts" / "create-run-sh.sh"), "--config", str(cfg)],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert made.returncode == 0, made.stderr
    subprocess.run(
        ["bash", "-c", 'setsid nohup "$0" >> "$1" 2>&1 < /dev/null &', str(run_sh), str(log)],
        env=env,
        timeout=30,
        check=True,
    )
    try:
        first = wait_health(port, lambda b: b.get("cycle_count", 0) >= 1)
        assert first["commit"] == checkout.base
        assert first["pid"] == int(pidfile.read_text())

        # (a) a good commit lands: new pid, new commit on /health. Asked for the default
        # systemd mode on a machine without the unit, update.sh falls back to signal mode.
        good = checkout.push("a harmless change", lambda t: (t / "DEPLOY-TEST").write_text("a\n"))
        no_unit = {**env, "PATH": f"{fake_systemctl(tmp_path)}:{env['PATH']}"}
        out = checkout.update(no_unit, "--restart", "--config", str(cfg))
        assert out.returncode == 0, out.stdout + out.stderr
        assert "restarting in signal mode" in out.stdout
        code, body = health(port)
        assert code == 200 and body["commit"] == good and body["pid"] != first["pid"]
        assert not alive(first["pid"])
        assert body["pid"] == int(pidfile.read_text())
        assert "rollback" not in out.stdout + out.stderr
        code, status = http_get(port, "/status", (db.parent / "status_token").read_text().strip())
        assert code == 200 and status["commit"] == good and status["version"] == body["version"]

        # (b) a commit whose probe fails: rolled back, the running supervisor never stopped
        serving = wait_health(port, lambda b: b.get("cycle_count", 0) >= 1)
        before = committed_cycles(db)
        samples: list[tuple[int, dict]] = []
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                samples.append(health(port))
                time.sleep(0.2)

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            bad = checkout.push("a change whose probe fails", break_probe)
            out = checkout.update(
                env, "--restart", "--restart-mode", "signal", "--config", str(cfg)
            )
        finally:
            done.set()
            sampler.join()
        assert out.returncode == 1, out.stdout + out.stderr
        # probed in a scratch checkout first: the bad commit never reached the running tree
        failed = [line for line in out.stderr.splitlines() if line.startswith("[update] failed:")]
        assert len(failed) == 1 and "probe failed" in failed[0], out.stderr
        assert bad[:12] in failed[0] and "nothing was changed" in failed[0]
        assert "rollback" not in out.stderr
        assert bad not in git(checkout.deploy, "reflog", "--format=%H").split()
        assert git(checkout.deploy, "rev-parse", "HEAD") == good
        assert git(checkout.deploy, "worktree", "list").count("\n") == 0  # scratch removed
        assert (
            FAILING_PROBE not in (checkout.deploy / "shared_scripts/check_strategy.py").read_text()
        )
        # every answer during the update came from the same, old process, and cycles went on
        assert samples and all(code == 200 for code, _ in samples), samples
        assert {b["pid"] for _, b in samples} == {serving["pid"]}
        assert {b["commit"] for _, b in samples} == {good}
        counts = [b["cycle_count"] for _, b in samples]
        assert counts == sorted(counts)
        after = wait_health(port, lambda b: b["cycle_count"] > counts[-1] + 1)
        assert after["pid"] == serving["pid"] and after["commit"] == good
        assert committed_cycles(db) > before

        # (c) a commit that probes fine but whose daemon cannot start: after the restart it
        # never answers, so the previous commit is put back and started again
        git(checkout.seed, "revert", "--no-edit", "--quiet", "HEAD")  # drop the broken probe
        dead = checkout.push("a daemon that exits at once", cannot_start)
        out = checkout.update(env, "--restart", "--restart-mode", "signal", "--config", str(cfg))
        assert out.returncode == 1, out.stdout + out.stderr
        rollbacks = [line for line in out.stderr.splitlines() if "[update] rollback:" in line]
        assert len(rollbacks) == 1, out.stderr
        assert dead[:12] in rollbacks[0] and "restarted it (it answers on /health)" in rollbacks[0]
        assert git(checkout.deploy, "rev-parse", "HEAD") == good
        back = wait_health(port, lambda b: b["cycle_count"] > after["cycle_count"])
        assert back["commit"] == good and back["pid"] != serving["pid"]
        assert back["pid"] == int(pidfile.read_text())
    finally:
        stop_pid(pidfile)


def test_rsync_from_keeps_config_state_and_venv_and_rolls_back(checkout, tmp_path):
    if shutil.which("rsync") is None:
        pytest.skip("rsync is not installed (apt-get install rsync)")
    deploy = checkout.deploy
    cfg = offline_config(deploy / "config.json", deploy / "state.db", free_port())
    keep = {
        "config.json": cfg.read_bytes(),
        "state.db": os.urandom(4096),
        "state.db-wal": os.urandom(8192),
        "state.db-shm": os.urandom(1024),
        ".env": b"STATUS_AUTH_TOKEN=secret\n",
    }
    for name, data in keep.items():
        (deploy / name).write_bytes(data)
    git_head = (deploy / ".git" / "HEAD").read_bytes()
    head_sha = git(deploy, "rev-parse", "HEAD")

    src = tmp_path / "src"
    git(tmp_path, "clone", "--quiet", "-b", "main", str(checkout.remote), str(src))
    (src / "RSYNC-LANDED").write_text("new code\n")
    landed = commit_all(src, "code to rsync")
    for name in keep:  # the source's own copies must not travel
        (src / name).write_bytes(b"source copy of " + name.encode())
    env = base_env(tmp_path)

    out = checkout.update(env, "--rsync-from", str(src), "--config", str(cfg))
    assert out.returncode == 0, out.stdout + out.stderr
    assert (deploy / "RSYNC-LANDED").read_text() == "new code\n"
    for name, data in keep.items():
        assert (deploy / name).read_bytes() == data, name
    assert (deploy / ".venv").is_symlink() and (deploy / ".venv").resolve() == VENV.resolve()
    assert (deploy / ".git" / "HEAD").read_bytes() == git_head
    assert git(deploy, "rev-parse", "HEAD") == head_sha
    assert (deploy / ".deployed-commit").read_text().strip() == landed
    reported = subprocess.run(
        [
            str(deploy / ".venv/bin/python"),
            "-c",
            "from supervisor.service.version import COMMIT; print(COMMIT)",
        ],
        cwd=deploy,
        env={**env, "PYTHONPATH": str(deploy)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert reported.stdout.strip() == landed, reported.stderr

    # a source whose probe fails: the deployment's previous code and marker come back
    break_probe(src)
    (src / "RSYNC-LANDED").unlink()
    commit_all(src, "broken probe")
    before = (deploy / "shared_scripts/check_strategy.py").read_bytes()
    out = checkout.update(env, "--rsync-from", str(src), "--config", str(cfg))
    assert out.returncode == 1, out.stdout + out.stderr
    assert "[update] rollback: probe failed" in out.stderr
    assert (deploy / "shared_scripts/check_strategy.py").read_bytes() == before
    assert (deploy / "RSYNC-LANDED").exists()
    assert (deploy / ".deployed-commit").read_text().strip() == landed
    for name, data in keep.items():
        assert (deploy / name).read_bytes() == data, name


def test_venv_is_synced_only_when_pyproject_changes_and_restored_on_rollback(checkout, tmp_path):
    deploy = checkout.deploy
    # A small venv of its own (wrappers around this one), so a sync cannot touch the real venv.
    (deploy / ".venv").unlink()
    bin_dir = deploy / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for tool in ("python", "go-trader"):
        (bin_dir / tool).write_text(f'#!/bin/sh\nexec "{VENV / "bin" / tool}" "$@"\n')
        (bin_dir / tool).chmod(0o755)
    (deploy / ".venv" / "original").write_text("the venv before any sync\n")
    cfg = offline_config(tmp_path / "config.json", tmp_path / "state.db", free_port())
    # the sync under test: leaves a mark in the venv it synced
    env = base_env(tmp_path, GO_TRADER_VENV_SYNC="echo synced >> .venv/synced")

    def venv_files() -> list[str]:
        return sorted(p.name for p in (deploy / ".venv").iterdir())

    checkout.push("no dependency change", lambda t: (t / "NOTE").write_text("1\n"))
    out = checkout.update(env, "--config", str(cfg))
    assert out.returncode == 0, out.stdout + out.stderr
    assert venv_files() == ["bin", "original"] and not (deploy / ".venv.prev").exists()

    def bump(tree: Path) -> None:
        with open(tree / "pyproject.toml", "a") as f:
            f.write("# a dependency change\n")

    synced = checkout.push("dependency change", bump)
    out = checkout.update(env, "--config", str(cfg))
    assert out.returncode == 0, out.stdout + out.stderr
    assert (deploy / ".venv" / "synced").read_text() == "synced\n"
    assert sorted(p.name for p in (deploy / ".venv.prev").iterdir()) == ["bin", "original"]

    def bump_and_break(tree: Path) -> None:
        bump(tree)
        break_probe(tree)

    checkout.push("dependency change whose probe fails", bump_and_break)
    out = checkout.update(env, "--config", str(cfg))
    assert out.returncode == 1 and "[update] rollback: probe failed" in out.stderr
    assert git(deploy, "rev-parse", "HEAD") == synced
    # the venv as it was before this update: synced once, not twice
    assert (deploy / ".venv" / "synced").read_text() == "synced\n"
    assert not (deploy / ".venv.prev").exists()


def test_a_second_update_refuses_while_one_holds_the_lock(checkout, tmp_path):
    cfg = offline_config(tmp_path / "config.json", tmp_path / "state.db", free_port())
    lock = checkout.deploy / ".git" / "go-trader-update.lock"
    with open(lock, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        out = checkout.update(
            base_env(tmp_path, UPDATE_LOCK_WAIT="1"), "--config", str(cfg), timeout=60
        )
    assert out.returncode == 1
    assert "another update.sh" in out.stdout + out.stderr
    # released: the same call goes through (nothing to pull)
    out = checkout.update(base_env(tmp_path), "--config", str(cfg), timeout=60)
    assert out.returncode == 0, out.stderr
    assert "already up to date" in out.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--restart-mode", "docker"], "systemd or signal"),
        (["--all"], "--all needs --restart"),
        (["--bogus"], "unknown argument"),
        (["--config"], "needs a value"),
    ],
)
def test_usage_errors_exit_2(args, message):
    out = subprocess.run(
        ["bash", str(REPO / "scripts" / "update.sh"), *args],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 2 and message in out.stderr


def test_help_and_missing_config(tmp_path):
    out = subprocess.run(
        ["bash", str(REPO / "scripts" / "update.sh"), "--help"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0 and "--rsync-from" in out.stdout and "rolls back" in out.stdout
    out = subprocess.run(
        ["bash", str(REPO / "scripts" / "update.sh"), "--restart-mode", "signal"],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "GO_TRADER_CONFIG": str(tmp_path / "nope.json")},
    )
    assert out.returncode == 1 and "nope.json not found" in out.stderr


def test_create_run_sh_writes_an_executable_and_never_clobbers(tmp_path):
    script = REPO / "scripts" / "create-run-sh.sh"
    target = tmp_path / "run.sh"
    cfg = tmp_path / "c.json"
    cfg.write_text("{}")
    out = subprocess.run(
        ["bash", str(script), "--config", str(cfg), str(target)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0, out.stderr
    text = target.read_text()
    assert os.access(target, os.X_OK)
    assert "exec ./.venv/bin/go-trader --config" in text and str(cfg) in text
    assert subprocess.run(["bash", "-n", str(target)], timeout=30).returncode == 0
    again = subprocess.run(
        ["bash", str(script), "--config", str(cfg), str(target)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert again.returncode == 1 and "--force" in again.stderr
    assert target.read_text() == text


@pytest.mark.parametrize(
    "args, message",
    [
        (["systemd/go-trader@.service"], "give an instance name"),
        (["systemd/go-trader@.service", "../etc"], "give an instance name"),
        (["systemd/go-trader.service", "x"], "not a template"),
        (["systemd/nope.service"], "not found"),
    ],
)
def test_install_service_rejects_bad_arguments_before_touching_anything(args, message):
    out = subprocess.run(
        ["bash", str(REPO / "scripts" / "install-service.sh"), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 2 and message in out.stderr


def test_install_service_refuses_without_root_or_systemctl(tmp_path):
    # An empty PATH hides systemctl; as non-root the root check answers first.
    out = subprocess.run(
        ["/bin/bash", str(REPO / "scripts" / "install-service.sh")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": str(tmp_path)},
    )
    assert out.returncode == 1
    assert "systemctl not found" in out.stderr or "must run as root" in out.stderr


SHA_A, SHA_B = "a" * 40, "b" * 40


def test_commit_is_read_from_git_files_and_the_deploy_marker(tmp_path):
    from supervisor.service.version import UNKNOWN, head_from_files, resolve_commit

    assert resolve_commit(tmp_path) == UNKNOWN  # no .git, no marker
    git_dir = tmp_path / ".git"
    (git_dir / "refs" / "heads").mkdir(parents=True)
    (git_dir / "HEAD").write_text("ref: refs/heads/main\n")
    (git_dir / "packed-refs").write_text(f"# pack-refs with: peeled\n{SHA_A} refs/heads/main\n")
    assert head_from_files(tmp_path) == SHA_A  # packed
    (git_dir / "refs" / "heads" / "main").write_text(SHA_B + "\n")
    assert resolve_commit(tmp_path) == SHA_B  # a loose ref wins over packed-refs
    (git_dir / "HEAD").write_text(SHA_A + "\n")
    assert resolve_commit(tmp_path) == SHA_A  # detached
    (tmp_path / ".deployed-commit").write_text(SHA_B + "\n")
    assert resolve_commit(tmp_path) == SHA_B  # an rsync deploy names its source's commit
    (tmp_path / ".deployed-commit").write_text("unknown\n")
    assert resolve_commit(tmp_path) == UNKNOWN  # not the stale .git


def test_commit_of_a_worktree_follows_its_gitdir_file(tmp_path):
    from supervisor.service.version import resolve_commit

    common = tmp_path / "main.git"
    wt_dir = common / "worktrees" / "wt"
    wt_dir.mkdir(parents=True)
    (common / "packed-refs").write_text(f"{SHA_A} refs/heads/feature\n")
    (wt_dir / "HEAD").write_text("ref: refs/heads/feature\n")
    (wt_dir / "commondir").write_text("../..\n")
    tree = tmp_path / "wt"
    tree.mkdir()
    (tree / ".git").write_text(f"gitdir: {wt_dir}\n")
    assert resolve_commit(tree) == SHA_A


@pytest.mark.skipif(checkout_problem() != "", reason="no git checkout or tools")
def test_version_flag_prints_version_and_the_running_commit(tmp_path):
    from supervisor import __version__
    from supervisor.service.version import resolve_commit

    out = subprocess.run(
        [sys.executable, "-m", "supervisor.cli", "--version"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    commit = resolve_commit(REPO)
    assert len(commit) == 40
    assert out.stdout.strip() == f"go-trader {__version__} (commit {commit})"
