#!/usr/bin/env bash
# Install go-trader as a systemd service: copy the unit, create the service user, logs/ and state/,
# daemon-reload, enable and (unless NO_START=1) start it. Safe to run again (idempotent).
set -euo pipefail

usage() {
  cat <<'EOF'
usage: sudo bash scripts/install-service.sh [UNIT_FILE] [INSTANCE]

UNIT_FILE   default systemd/go-trader.service; systemd/go-trader@.service for one of several
            instances, which then needs INSTANCE (letters, digits, '_', '.', '-').
            systemd/go-trader-chat-bridge.service installs the chat bridge (Discord/Telegram
            commands; README "Chat commands") next to the daemon's unit.
NO_START=1  install and enable, but do not start (or restart) the service.

Examples:
  sudo bash scripts/install-service.sh
  sudo bash scripts/install-service.sh systemd/go-trader@.service paper-testing
  sudo bash scripts/install-service.sh systemd/go-trader-chat-bridge.service
  NO_START=1 sudo bash scripts/install-service.sh
EOF
}

die() { echo "install-service.sh: $*" >&2; exit 1; }

case "${1:-}" in -h | --help) usage; exit 0 ;; esac
case "${BASH_SOURCE[0]}" in */*) here=${BASH_SOURCE[0]%/*} ;; *) here=. ;; esac
repo=$(cd "$here/.." && pwd)
unit_file=${1:-$repo/systemd/go-trader.service}
instance=${2:-}
[ $# -le 2 ] || { usage >&2; exit 2; }
[ -f "$unit_file" ] || { echo "install-service.sh: unit file $unit_file not found" >&2; exit 2; }
base=${unit_file##*/}
case "$base" in
  *@.service)
    if ! [[ "$instance" =~ ^[A-Za-z0-9_.-]+$ ]]; then
      echo "install-service.sh: $base is a template: give an instance name ([A-Za-z0-9_.-]+)," \
        "e.g. sudo bash scripts/install-service.sh $unit_file paper" >&2
      exit 2
    fi
    unit_name=${base%@.service}@$instance.service ;;
  *.service)
    [ -z "$instance" ] || { echo "install-service.sh: $base is not a template; drop '$instance'" >&2; exit 2; }
    unit_name=$base ;;
  *) echo "install-service.sh: $unit_file is not a .service file" >&2; exit 2 ;;
esac

[ "${EUID:-$(id -u)}" -eq 0 ] || die "must run as root (sudo bash scripts/install-service.sh $*)"
command -v systemctl > /dev/null 2>&1 \
  || die "systemctl not found: this machine has no systemd; for a bare-process deploy run" \
    "'bash scripts/create-run-sh.sh' and use 'scripts/update.sh --restart-mode signal'"

# A unit setting, first occurrence, with %i replaced by the instance.
setting() {
  local value
  value=$(sed -n "s/^$1=//p" "$unit_file" | head -n 1)
  printf '%s\n' "${value//%i/$instance}"
}
user=$(setting User)
group=$(setting Group)
workdir=$(setting WorkingDirectory)
user=${user:-go-trader}
group=${group:-$user}

if ! id -u "$user" > /dev/null 2>&1; then
  echo "creating system user $user"
  useradd --system --user-group --home-dir /nonexistent --no-create-home \
    --shell /usr/sbin/nologin "$user"
fi
if [ -n "$workdir" ]; then
  [ -d "$workdir" ] || echo "install-service.sh: warning: WorkingDirectory $workdir does not exist yet" >&2
  # ProtectSystem=strict makes the tree read-only for the service: its writable dirs (logs/,
  # state/ for caches; the unit's ReadWritePaths) must exist beforehand.
  mkdir -p "$workdir/logs" "$workdir/state"
  chown "$user:$group" "$workdir/logs" "$workdir/state"
fi

install -m 0644 "$unit_file" "/etc/systemd/system/$base"
systemctl daemon-reload
systemctl enable "$unit_name"
if [ "${NO_START:-0}" = 1 ]; then
  echo "installed and enabled $unit_name (not started: NO_START=1)"
else
  systemctl restart "$unit_name"
  echo "installed, enabled and started $unit_name"
fi
echo "enabled: $(systemctl is-enabled "$unit_name" 2> /dev/null || true)," \
  "active: $(systemctl is-active "$unit_name" 2> /dev/null || true)"
echo "logs: journalctl -u $unit_name -f"
