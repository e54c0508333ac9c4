"""auto_update (reference §5.6, B.6) against a local bare git repo and the fake chat server."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import fake_strategy, write_config

from shared_tools.config.load import load_config
from shared_tools.config.model import ConfigError
from supervisor.notify.sender import Sender
from supervisor.notify.updater import UpdateWatcher, behind
from supervisor.state.db import StateDB


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=cwd, check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip


@pytest.fixture
def repos(tmp_path):
    """(deployed clone, a developer clone) of one bare origin; the deploy is current."""
    origin, dev, deploy = tmp_path / "origin.git", tmp_path / "dev", tmp_path / "deploy"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    subprocess.run(["git", "clone", "-q", str(origin), str(dev)], check=True)
    git(dev, "checkout", "-q", "-b", "main")
    (dev / "f.txt").write_text("1\n")
    git(dev, "add", "f.txt")
    git(dev, "commit", "-q", "-m", "first")
    git(dev, "push", "-q", "origin", "main")
    subprocess.run(["git", "clone", "-q", str(origin), str(deploy)], check=True)
    return deploy, dev


def push(dev: Path, message: str) -> str:
    (dev / "f.txt").write_text(message + "\n")
    git(dev, "commit", "-q", "-am", message)
    git(dev, "push", "-q", "origin", "main")
    return git(dev, "rev-parse", "HEAD")


class Harness:
    def __init__(self, tmp_path, repo, script: str, auto: str = "heartbeat") -> None:
        self.config = load_config(
            write_config(
                tmp_path,
                [fake_strategy("a", "hold")],
                auto_update=auto,
                discord={"enabled": True, "owner_id": "42", "channels": {"spot": "100"}},
            )
        )
        self.db = StateDB(self.config.db_file)
        self.sender = Sender(self.db.engine, lambda: self.config.notify, timeout_s=3.0)
        self.restarts: list[int] = []
        self.now = 1_000_000.0
        self.watcher = UpdateWatcher(
            self.db.engine,
            lambda: self.config,
            wake=lambda: None,
            log=print,
            repo=repo,
            update_cmd=["bash", "-c", script],
            restart=lambda: self.restarts.append(1) or True,
            clock=lambda: self.now,
        )

    def tick(self) -> str:
        state = self.watcher.tick()
        while self.sender.run_once()[0]:
            pass
        return state


def test_behind_compares_head_with_origin_main(repos):
    deploy, dev = repos
    head, remote, lines = behind(deploy)
    assert head == remote and lines == []
    new = push(dev, "second")
    head, remote, lines = behind(deploy)
    assert remote == new and head != new and lines[0].endswith("second")


def test_yes_runs_update_sh_and_reports_it(tmp_path, repos, fake_chat):
    deploy, dev = repos
    h = Harness(tmp_path, deploy, "echo pulled; echo '[update] updated ok'")
    assert h.tick() == "current"
    new = push(dev, "fix the thing")
    h.now += 400  # past interval_seconds (heartbeat)
    assert h.tick() == "asked"
    (channel,) = fake_chat.bodies("100")
    assert f"→ {new[:8]}" in channel and "fix the thing" in channel
    (ask,) = fake_chat.bodies("dm-42")
    assert "Would you like me to upgrade automatically? (yes/no)" in ask
    assert h.tick() == "waiting"
    fake_chat.reply("discord", "42", " YES ")
    assert h.tick() == "updated"
    dms = fake_chat.bodies("dm-42")
    assert "Starting upgrade..." in dms[1]
    assert f"**update.sh OK** ({new[:8]})" in dms[2] and "[update] updated ok" in dms[2]
    assert h.restarts == [1]
    h.now += 400
    assert h.tick() == "current"  # announced already: not asked again
    h.db.close()


def test_a_failed_update_reports_the_rollback_and_no_restart(tmp_path, repos, fake_chat):
    deploy, dev = repos
    script = "echo '[update] rollback: probe failed; restored abc1234' >&2; exit 1"
    h = Harness(tmp_path, deploy, script)
    push(dev, "broken")
    assert h.tick() == "asked"
    fake_chat.reply("discord", "42", "yes")
    assert h.tick() == "failed"
    last = fake_chat.bodies("dm-42")[-1]
    assert last.startswith("🚨 **go-trader**: **update.sh failed** (exit 1)")
    assert "[update] rollback: probe failed; restored abc1234" in last
    assert h.restarts == []
    h.db.close()


def test_anything_but_yes_or_the_timeout_skips(tmp_path, repos, fake_chat):
    deploy, dev = repos
    h = Harness(tmp_path, deploy, "exit 0")
    push(dev, "one")
    assert h.tick() == "asked"
    fake_chat.reply("discord", "42", "y")  # upstream: only "yes"
    assert h.tick() == "skipped"
    assert fake_chat.bodies("dm-42")[-1].endswith("Upgrade skipped.")
    push(dev, "two")
    h.now += 400
    assert h.tick() == "asked"
    h.now += 31 * 60
    assert h.tick() == "skipped" and h.restarts == []
    h.db.close()


def test_a_restart_does_not_ask_again_for_the_same_commit(tmp_path, repos, fake_chat):
    deploy, dev = repos
    h = Harness(tmp_path, deploy, "exit 0")
    push(dev, "one")
    assert h.tick() == "asked"
    h.db.close()
    again = Harness(tmp_path, deploy, "exit 0")
    assert again.tick() == "current"
    again.db.close()


def test_off_does_nothing_and_bad_values_are_refused(tmp_path, repos):
    deploy, _dev = repos
    h = Harness(tmp_path, deploy, "exit 0", auto="off")
    assert h.tick() == "off"
    h.db.close()
    with pytest.raises(ConfigError) as err:
        load_config(write_config(tmp_path, [fake_strategy("a", "hold")], auto_update="weekly"))
    assert any("auto_update must be off, daily or heartbeat" in line for line in err.value.lines)


def test_a_failed_fetch_is_one_line_and_no_message(tmp_path, fake_chat):
    lone = tmp_path / "lone"
    subprocess.run(["git", "init", "-q", str(lone)], check=True)
    assert behind(lone).startswith("git fetch origin failed: fatal: 'origin'")
    h = Harness(tmp_path, lone, "exit 0")
    assert h.tick() == "error" and fake_chat.delivered == []
    h.db.close()


def test_the_chat_bridges_update_applies_the_offer_once(tmp_path, repos, fake_chat):
    """/go-trader-update (chat_bridge/) answers the offer through the API: the same apply as
    the DM "yes", once; a later "yes", a replayed POST or a new confirm find nothing."""
    import time
    import types

    from supervisor.http.post import Actions

    deploy, dev = repos
    h = Harness(tmp_path, deploy, "echo '[update] updated ok'")
    sup = types.SimpleNamespace(
        config=h.config, ready=True, db=object(), notifier=types.SimpleNamespace(updater=h.watcher)
    )
    actions = Actions(sup, board=None)
    ask = {"action": "update", "strategy_id": "", "params": {}}
    assert actions.post("/api/confirm", ask)[0] == 409  # nothing on offer yet
    new = push(dev, "feature")
    assert h.tick() == "asked"
    code, c = actions.post("/api/confirm", ask)
    assert code == 200 and f"update to {new[:8]}" in c["description"]
    code, out = actions.post("/api/update", {"nonce": c["nonce"]})
    assert code == 200 and out["ok"], out
    deadline = time.monotonic() + 30
    while not h.restarts:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    while h.sender.run_once()[0]:
        pass
    dms = fake_chat.bodies("dm-42")
    assert "Starting upgrade..." in dms[1] and f"**update.sh OK** ({new[:8]})" in dms[2]
    fake_chat.reply("discord", "42", "yes")
    assert h.tick() != "updated" and h.restarts == [1]
    assert actions.post("/api/update", {"nonce": c["nonce"]})[0] == 403
    assert actions.post("/api/confirm", ask)[0] == 409
    h.db.close()
