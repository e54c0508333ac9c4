#!/usr/bin/env bash
# Update a go-trader deployment, with rollback: pull (or rsync), sync the venv when
# pyproject.toml changed, probe the new code with the operator's config, restart, and wait until
# /health answers with the new commit. When any step fails, the previous commit and venv are put
# back (and restarted, if the restart had already happened), and one "[update] rollback:" line
# says so. A failed probe never stops the running supervisor.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: bash scripts/update.sh [--restart] [--restart-mode systemd|signal] [--config PATH]
                              [--rsync-from SRC] [--all [--update-all-root DIR]]
                              [--unit NAME] [--status-port N] [--dir REPO]

Steps: lock -> git fetch -> go-trader probe of the new commit in a scratch checkout (when
pyproject.toml is unchanged; a commit that fails it never reaches this tree) -> git merge
--ff-only (or rsync from SRC) -> venv sync (only when pyproject.toml changed; the old venv is
kept as .venv.prev) -> go-trader probe (new code, your config) ->
restart (only with --restart) -> poll /health until the new commit and a new pid answer.
Any failure rolls back to the previous commit and venv (restarting it if it had been stopped).

  --restart              restart the supervisor after a good probe (env RESTART=1)
  --restart-mode MODE    systemd (default; env RESTART_MODE) or signal (bare process: SIGTERM the
                         pid in GO_TRADER_PIDFILE, wait for it to exit, start GO_TRADER_RUN_SH)
  --config PATH          the config the supervisor runs (env GO_TRADER_CONFIG; default: the
                         --config of the unit's ExecStart in systemd mode, else config.json)
  --rsync-from SRC       copy the code from a source tree instead of git pull; never touches
                         .git/, .env, the config, state DBs (*.db, -wal, -shm), .venv, state/,
                         logs/, run.sh, the pidfile; writes .deployed-commit (SRC's HEAD)
  --all                  update every go-trader-*/ directory under GO_TRADER_UPDATE_ALL_ROOT
                         (default: the parent of this repo), one after the other; needs --restart
  --update-all-root DIR  the directory --all scans
  --unit NAME            systemd unit (env GO_TRADER_SERVICE or UNIT; INSTANCE=x means
                         go-trader@x; default go-trader, or go-trader@NAME in a go-trader-NAME dir
                         when that unit exists)
  --status-port N        where /health answers (env STATUS_PORT; default: config status_port, 8099)
  --dir REPO             the deployment to update (default: the repo this script is in)

Environment: GO_TRADER_PIDFILE (default REPO/go-trader.pid), GO_TRADER_RUN_SH (REPO/run.sh),
GO_TRADER_SIGNAL_LOG (REPO/go-trader-signal.log), HEALTH_TIMEOUT (60 s), ACTIVE_TIMEOUT (30 s:
wait for a stopped process or an active unit), UPDATE_LOCK_WAIT (600 s: a second update.sh
waits this long for the first, then refuses), GO_TRADER_VENV_SYNC (the venv sync command, run in
REPO; default: bash scripts/setup.sh).

Exit: 0 updated (or already up to date), 1 failed (rolled back when something had changed),
2 usage. Log lines start with [update].
EOF
}

log() { echo "[update] $*"; }
warn() { echo "[update] warning: $*" >&2; }
usage_error() { echo "update.sh: $*; see --help" >&2; exit 2; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
restart=${RESTART:-0}
mode=${RESTART_MODE:-}
config=${GO_TRADER_CONFIG:-}
unit=${GO_TRADER_SERVICE:-${UNIT:-}}
status_port=${STATUS_PORT:-}
rsync_from=""
all=0
all_root=${GO_TRADER_UPDATE_ALL_ROOT:-}
health_timeout=${HEALTH_TIMEOUT:-60}
active_timeout=${ACTIVE_TIMEOUT:-30}
lock_wait=${UPDATE_LOCK_WAIT:-600}
venv_sync=${GO_TRADER_VENV_SYNC:-bash scripts/setup.sh}

need_value() { [ "$2" -ge 2 ] || usage_error "$1 needs a value"; }
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --restart) restart=1; shift ;;
    --restart-mode) need_value "$1" $#; mode=$2; shift 2 ;;
    --config) need_value "$1" $#; config=$2; shift 2 ;;
    --rsync-from) need_value "$1" $#; rsync_from=$2; shift 2 ;;
    --all) all=1; shift ;;
    --update-all-root) need_value "$1" $#; all_root=$2; shift 2 ;;
    --unit | --service) need_value "$1" $#; unit=$2; shift 2 ;;
    --status-port) need_value "$1" $#; status_port=$2; shift 2 ;;
    --dir) need_value "$1" $#; repo=$(cd "$2" && pwd) || usage_error "--dir $2: no such directory"; shift 2 ;;
    *) usage_error "unknown argument '$1'" ;;
  esac
done
case "${mode:-systemd}" in systemd | signal) ;; *) usage_error "--restart-mode must be systemd or signal, not '$mode'" ;; esac
[ "$restart" = 0 ] || [ "$restart" = 1 ] || usage_error "RESTART must be 0 or 1"
if [ "$all" = 1 ]; then
  [ "$restart" = 1 ] || usage_error "--all needs --restart"
  [ -z "$rsync_from" ] || usage_error "--all and --rsync-from do not go together"
  [ -z "$config" ] || usage_error "--all: each deployment uses its own config; drop --config/GO_TRADER_CONFIG"
fi

# --- --all: run each sibling deployment's own update.sh ------------------------------------------
if [ "$all" = 1 ]; then
  root=${all_root:-$(dirname "$repo")}
  [ -d "$root" ] || usage_error "--update-all-root $root: no such directory"
  done_n=0
  failed=()
  for dir in "$root"/go-trader-*/; do
    dir=${dir%/}
    [ -d "$dir" ] || continue
    if [ ! -f "$dir/scripts/update.sh" ] || [ ! -e "$dir/.venv" ]; then
      log "skip $dir: not a deployment (no scripts/update.sh or .venv)"
      continue
    fi
    log "=== $dir"
    child=(bash "$dir/scripts/update.sh" --restart --dir "$dir")
    [ -z "$mode" ] || child+=(--restart-mode "$mode")
    # Paths and ports default per deployment; a value meant for this repo must not leak into others.
    if env -u GO_TRADER_PIDFILE -u GO_TRADER_RUN_SH -u GO_TRADER_SIGNAL_LOG -u STATUS_PORT \
      -u INSTANCE "${child[@]}"; then
      done_n=$((done_n + 1))
    else
      failed+=("$dir")
    fi
  done
  if [ ${#failed[@]} -gt 0 ]; then
    echo "[update] --all: ${#failed[@]} failed: ${failed[*]} ($done_n updated)" >&2
    exit 1
  fi
  [ "$done_n" -gt 0 ] || { echo "[update] --all: no go-trader-*/ deployment under $root" >&2; exit 1; }
  log "--all: $done_n deployment(s) updated"
  exit 0
fi

# --- preflight ---------------------------------------------------------------------------------------
cd "$repo"
py=$repo/.venv/bin/python
[ -x .venv/bin/go-trader ] || { echo "[update] error: no venv at $repo/.venv (run: bash scripts/setup.sh)" >&2; exit 1; }
command -v flock > /dev/null 2>&1 || { echo "[update] error: flock not found (install util-linux)" >&2; exit 1; }

systemctl_cmd() {
  if [ "$(id -u)" -eq 0 ]; then systemctl "$@"; else sudo -n systemctl "$@"; fi
}
if [ -z "$unit" ] && [ -n "${INSTANCE:-}" ]; then
  unit="go-trader@$INSTANCE.service"
elif [ -z "$unit" ]; then
  unit=go-trader.service
  name=$(basename "$repo")
  if [[ "$name" == go-trader-?* ]] && command -v systemctl > /dev/null 2>&1 \
    && systemctl cat "go-trader@${name#go-trader-}.service" > /dev/null 2>&1; then
    unit="go-trader@${name#go-trader-}.service"
  fi
fi
if [ -z "$config" ] && [ "${mode:-systemd}" = systemd ] && command -v systemctl > /dev/null 2>&1; then
  # The config the unit runs: the --config of its ExecStart (%i expanded for templates).
  config=$(systemctl cat "$unit" 2> /dev/null | sed -n 's/^ExecStart=.*--config[= ]\([^ ]*\).*/\1/p' | tail -n 1 || true)
  instance=${unit#*@}
  [ "$instance" = "$unit" ] || config=${config//%i/${instance%.service}}
fi
config=${config:-config.json}
case "$config" in /*) ;; *) config=$repo/$config ;; esac
if [ -d "${config%/*}" ]; then config=$(cd "${config%/*}" && pwd)/${config##*/}; fi
if [ ! -f "$config" ]; then
  echo "[update] error: config $config not found; pass --config PATH (or GO_TRADER_CONFIG) naming the" \
    "config the supervisor runs: the new code is probed with it before any restart" >&2
  exit 1
fi
pidfile=${GO_TRADER_PIDFILE:-$repo/go-trader.pid}
run_sh=${GO_TRADER_RUN_SH:-$repo/run.sh}
signal_log=${GO_TRADER_SIGNAL_LOG:-$repo/go-trader-signal.log}

cfg_get() { # a top-level config key, "" when absent or unreadable
  "$py" -c 'import json, sys
try:
    v = json.load(open(sys.argv[1])).get(sys.argv[2])
except Exception:
    v = None
print("" if v is None else v)' "$config" "$1" 2> /dev/null || true
}
status_port=${status_port:-$(cfg_get status_port)}
status_port=${status_port:-8099}

# --- one update at a time ------------------------------------------------------------------------
if [ -d .git ]; then lockfile=$repo/.git/go-trader-update.lock; else lockfile=$repo/.go-trader-update.lock; fi
exec 9> "$lockfile"
if ! flock -n 9; then
  log "another update.sh is running in $repo; waiting up to ${lock_wait}s"
  flock -w "$lock_wait" 9 || { echo "[update] error: another update.sh still holds $lockfile; try again later" >&2; exit 1; }
fi

# --- helpers -------------------------------------------------------------------------------------
short() { [ -n "$1" ] && printf '%s' "${1:0:12}" || printf 'unknown'; }

health() { # prints "<http code> <commit> <pid>" for /health, nothing when it does not answer
  "$py" -c 'import json, sys, urllib.error, urllib.request
url = "http://127.0.0.1:%s/health" % sys.argv[1]
try:
    with urllib.request.urlopen(url, timeout=3) as r:
        code, body = r.status, r.read()
except urllib.error.HTTPError as e:
    code, body = e.code, e.read()
except Exception:
    sys.exit(0)
try:
    b = json.loads(body)
except ValueError:
    sys.exit(0)
print(code, b.get("commit") or "-", b.get("pid") or "-")' "$status_port" 2> /dev/null || true
}

alive() { # a live process (a zombie left to an init that does not reap counts as gone)
  kill -0 "$1" 2> /dev/null || return 1
  if [ -r "/proc/$1/stat" ]; then
    [ "$(sed -E 's/^.*\) (.).*$/\1/' "/proc/$1/stat" 2> /dev/null || true)" != Z ] || return 1
  fi
  return 0
}

read_pid() { if [ -f "$pidfile" ]; then tr -dc '0-9' < "$pidfile" || true; fi; }

# Wait until /health is 200 from a pid other than $2 running commit $1 ("" = any commit).
wait_health() {
  local want=$1 old_pid=$2 code commit pid
  local deadline=$((SECONDS + health_timeout))
  while [ "$SECONDS" -lt "$deadline" ]; do
    read -r code commit pid <<< "$(health)" || true
    if [ "${code:-}" = 200 ] && { [ -z "$want" ] || [ "$commit" = "$want" ]; } \
      && [ -n "${pid:-}" ] && [ "$pid" != "$old_pid" ]; then
      return 0
    fi
    if [ "$mode" = signal ]; then # the new process already died: no point in waiting on
      local now_pid
      now_pid=$(read_pid)
      if [ -n "$now_pid" ] && [ "$now_pid" != "$old_pid" ] && ! alive "$now_pid"; then
        return 1
      fi
    fi
    sleep 1
  done
  return 1
}

restart_signal() {
  [ -x "$run_sh" ] || { warn "signal mode: $run_sh is missing or not executable (create it: bash scripts/create-run-sh.sh)"; return 1; }
  local pid waited=0
  pid=$(read_pid)
  if [ -n "$pid" ] && alive "$pid"; then
    log "stopping pid $pid (SIGTERM)"
    kill -TERM "$pid" 2> /dev/null || true
    while alive "$pid" && [ "$waited" -lt $((active_timeout * 5)) ]; do
      sleep 0.2
      waited=$((waited + 1))
    done
    if alive "$pid"; then
      warn "pid $pid still running after ${active_timeout}s; SIGKILL"
      kill -KILL "$pid" 2> /dev/null || true
      sleep 1
    fi
  else
    log "no running supervisor in $pidfile; starting one"
  fi
  log "starting $run_sh (output: $signal_log)"
  # 9>&-: the new supervisor must not inherit (and hold) the update lock.
  setsid nohup "$run_sh" >> "$signal_log" 2>&1 < /dev/null 9>&- &
  return 0
}

warn_missing_envfiles() {
  local line path
  while read -r line; do
    path=${line%% (*}
    case "$line" in *"ignore_errors=no"*) [ -e "$path" ] || warn "$unit: EnvironmentFile $path is missing" ;; esac
  done < <(systemctl show -p EnvironmentFiles --value "$unit" 2> /dev/null || true)
}

restart_systemd() {
  if ! command -v systemctl > /dev/null 2>&1; then
    warn "systemctl not found"
    return 5
  fi
  warn_missing_envfiles
  log "systemctl restart $unit"
  local rc=0
  systemctl_cmd restart "$unit" || rc=$?
  [ "$rc" -eq 0 ] || return "$rc"
  local deadline=$((SECONDS + active_timeout))
  until systemctl is-active --quiet "$unit"; do
    [ "$SECONDS" -lt "$deadline" ] || { warn "$unit not active after ${active_timeout}s"; return 1; }
    sleep 1
  done
}

do_restart() {
  if [ "$mode" = signal ]; then
    restart_signal
    return
  fi
  local rc=0
  restart_systemd || rc=$?
  [ "$rc" -ne 0 ] || return 0
  if [ "$rc" -eq 5 ] && [ -f "$pidfile" ] && [ -x "$run_sh" ]; then
    log "unit $unit not found; $pidfile and $run_sh exist: restarting in signal mode"
    mode=signal
    restart_signal
    return
  fi
  return 1
}

# --- rsync excludes: what belongs to this deployment, never to the source ---------------------------
rel() { case "$1" in "$repo"/*) printf '/%s' "${1#"$repo"/}" ;; esac; }
excludes=(
  --exclude=/.git/ --exclude=/.venv --exclude=/.venv.prev --exclude=.env
  --exclude=/config.json --exclude='*.db' --exclude='*.db-wal' --exclude='*.db-shm'
  --exclude='*.db-journal' --exclude='*.db.lock' --exclude=/state/ --exclude=/logs/
  --exclude=__pycache__/ --exclude='*.egg-info/' --exclude=/run.sh --exclude='*.pid'
  --exclude=/go-trader-signal.log --exclude=/.deployed-commit --exclude=/.go-trader-update.lock
  --exclude=.pytest_cache/ --exclude=.ruff_cache/ --exclude=.hypothesis/ --exclude=node_modules/
)
db_file=$(cfg_get db_file)
case "$db_file" in "" | /*) ;; *) db_file=$repo/$db_file ;; esac
for path in "$config" "$db_file" "$pidfile" "$run_sh" "$signal_log"; do
  r=$(rel "$path")
  [ -z "$r" ] || excludes+=("--exclude=$r")
done
r=$(rel "$db_file")
[ -z "$r" ] || excludes+=("--exclude=$r-wal" "--exclude=$r-shm" "--exclude=$r-journal" "--exclude=$r.lock")

# --- the update, with rollback ------------------------------------------------------------------
state=clean      # clean: nothing changed | changed: tree/venv changed | restarted: old process stopped
phase=preflight
old="" new="" backup="" venv_synced=0 saved_marker="" had_marker=0 finished=0 in_fail=0 old_pid=""

preprobe() { # probe commit $1 in a scratch checkout, before this tree changes
  local scratch
  phase="probe (scratch checkout)"
  scratch=$(mktemp -d "${TMPDIR:-/tmp}/go-trader-probe.XXXXXX")
  git worktree add --detach --quiet "$scratch/tree" "$1" \
    || { rm -rf "$scratch"; fail "could not check $(short "$1") out to probe it"; }
  log "probe $(short "$1") in a scratch checkout with $config (this tree is not touched yet)"
  local ok=1
  (cd "$scratch/tree" && PYTHONPATH="$scratch/tree" "$repo/.venv/bin/go-trader" probe --config "$config") || ok=0
  git worktree remove --force "$scratch/tree" 2> /dev/null || true
  rm -rf "$scratch"
  git worktree prune 2> /dev/null || true
  [ "$ok" = 1 ] || fail "probe failed for $(short "$1")"
}

restore_tree() {
  if [ -n "$rsync_from" ]; then
    rsync -a --delete "${excludes[@]}" "$backup/code/" "$repo/"
  else
    git reset --hard --quiet "$old"
  fi
  if [ "$had_marker" = 1 ]; then printf '%s\n' "$saved_marker" > .deployed-commit; else rm -f .deployed-commit; fi
  if [ "$venv_synced" = 1 ]; then
    rm -rf .venv && mv .venv.prev .venv
  fi
}

fail() { # roll back what changed, say so in one line, exit 1
  in_fail=1
  set +e
  local why=$1
  case "$state" in
    clean)
      echo "[update] failed: $why (nothing was changed)" >&2 ;;
    changed)
      restore_tree
      echo "[update] rollback: $why; restored $(short "$old") (the running supervisor was not stopped)" >&2 ;;
    restarted)
      restore_tree
      local result="it answers on /health"
      if ! do_restart || ! wait_health "$old" ""; then
        result="it does NOT answer on /health yet: check $([ "$mode" = signal ] && echo "$signal_log" || echo "journalctl -u $unit")"
      fi
      echo "[update] rollback: $why; restored $(short "$old") and restarted it ($result)" >&2 ;;
  esac
  exit 1
}
cleanup() {
  local rc=$?
  if [ "$rc" -ne 0 ] && [ "$finished" = 0 ] && [ "$in_fail" = 0 ]; then
    fail "unexpected error (exit $rc) during $phase"
  fi
  [ -z "$backup" ] || rm -rf "$backup"
}
trap cleanup EXIT

if [ -f .deployed-commit ]; then had_marker=1; saved_marker=$(cat .deployed-commit); fi
if [ -n "$rsync_from" ]; then
  phase=rsync
  command -v rsync > /dev/null 2>&1 || fail "--rsync-from needs rsync (install it: apt-get install rsync)"
  src=$(cd "$rsync_from" 2> /dev/null && pwd) || fail "--rsync-from $rsync_from: no such directory"
  [ "$src" != "$repo" ] || fail "--rsync-from $src is this deployment itself"
  [ -f "$src/supervisor/__init__.py" ] || fail "--rsync-from $src: not a go-trader tree (no supervisor/)"
  old=$("$py" -c 'from supervisor.service.version import COMMIT; print(COMMIT)' 2> /dev/null || true)
  [ "$old" != unknown ] || old=""
  if [ -e "$src/.git" ] && new=$(git -C "$src" rev-parse HEAD 2> /dev/null); then
    [ -z "$(git -C "$src" status --porcelain --untracked-files=no 2> /dev/null)" ] \
      || warn "$src has uncommitted changes; .deployed-commit names its HEAD $(short "$new")"
  else
    new=""
  fi
  backup=$(mktemp -d "${TMPDIR:-/tmp}/go-trader-update.XXXXXX")
  rsync -a --delete "${excludes[@]}" "$repo/" "$backup/code/"
  state=changed
  log "rsync from $src ($(short "$new"))"
  rsync -a --delete "${excludes[@]}" "$src/" "$repo/"
  printf '%s\n' "${new:-unknown}" > .deployed-commit
  pyproject_changed=0
  cmp -s "$backup/code/pyproject.toml" pyproject.toml || pyproject_changed=1
else
  phase=pull
  [ -d .git ] || fail "$repo is not a git checkout; deploy with --rsync-from SRC"
  [ -z "$(git status --porcelain --untracked-files=no)" ] \
    || fail "$repo has local changes to tracked files (git status); commit or drop them, or deploy with --rsync-from"
  old=$(git rev-parse HEAD)
  log "git fetch (at $(short "$old"))"
  git fetch --quiet || fail "git fetch failed (unreachable remote?)"
  target=$(git rev-parse --verify --quiet '@{u}') \
    || fail "the branch has no upstream to pull from (git branch --set-upstream-to)"
  if [ "$target" != "$old" ] && git diff --quiet "$old" "$target" -- pyproject.toml; then
    preprobe "$target" # the running supervisor never spawns a worker of a commit that fails it
  fi
  log "git merge --ff-only $(short "$target")"
  git merge --ff-only --quiet "$target" || fail "git merge --ff-only failed (the branch has diverged)"
  new=$(git rev-parse HEAD)
  if [ "$new" = "$old" ]; then
    running=$(health | awk '{print $2}')
    if [ "$restart" = 0 ] || [ "$running" = "$new" ]; then
      finished=1
      log "already up to date at $(short "$new") (running: ${running:-not answering})"
      exit 0
    fi
    log "already at $(short "$new"), but the supervisor runs ${running:-nothing that answers}: restarting"
  fi
  state=changed
  rm -f .deployed-commit # the tree is git's again
  pyproject_changed=0
  git diff --quiet "$old" "$new" -- pyproject.toml || pyproject_changed=1
fi

if [ "$pyproject_changed" = 1 ]; then
  phase="venv sync"
  # A venv is not relocatable (bin/ scripts hold its absolute path), so building a new one
  # elsewhere and renaming it would break it: keep a full copy instead and move that back on
  # rollback, which restores it at the very path it was made for.
  [ ! -L .venv ] || warn ".venv is a symlink: the sync installs into the venv it points at, and a rollback cannot undo that"
  log "pyproject.toml changed: syncing the venv (previous venv kept as .venv.prev)"
  rm -rf .venv.prev
  cp -a .venv .venv.prev
  venv_synced=1
  rm -f .venv/.installed # setup.sh installs when pyproject.toml is newer; rsync keeps old mtimes
  bash -c "$venv_sync" || fail "venv sync ($venv_sync) failed"
fi

phase=probe
log "probe $(short "$new") with $config"
PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}" .venv/bin/go-trader probe --config "$config" \
  || fail "probe failed for $(short "$new")"

if [ "$restart" = 0 ]; then
  finished=1
  log "updated $(short "$old") -> $(short "$new"); not restarted (pass --restart to run it)"
  exit 0
fi

phase=restart
read -r _ _ old_pid <<< "$(health)" || true
[ "${old_pid:-}" != "-" ] || old_pid=""
if [ "${mode:-systemd}" = signal ] && [ -z "${old_pid:-}" ]; then old_pid=$(read_pid); fi
mode=${mode:-systemd}
state=restarted
do_restart || fail "restart ($mode mode) failed"
phase=verify
log "waiting up to ${health_timeout}s for /health on port $status_port to answer with $(short "$new")"
wait_health "$new" "${old_pid:-}" || fail "$(short "$new") did not answer healthy on /health within ${health_timeout}s"
finished=1
log "updated $(short "$old") -> $(short "$new"); the new supervisor answers on /health"
