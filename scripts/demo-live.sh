#!/usr/bin/env bash
# A live-trading rehearsal, offline: the supervisor trades Hyperliquid perps "live" against the
# local venue (python -m platforms.hyperliquid.localvenue) with a throwaway key, for a few
# cycles of a pinned day, and prints the book beside the venue's account after each cycle.
# No network, no real key: every request goes to 127.0.0.1. Run: ./scripts/demo-live.sh
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
PY=.venv/bin/python
WORK=$(mktemp -d "${TMPDIR:-/tmp}/go-trader-demo-live.XXXXXX")
DAY=1767571200 # 2026-01-05T00:00:00Z on the simulated market (seed 42)
export GO_TRADER_NOW=$DAY GO_TRADER_SIM_SEED=42 GO_TRADER_MARKET_DATA=simulated
export GO_TRADER_OHLCV_CACHE="$WORK/ohlcv.db"
export HYPERLIQUID_SECRET_KEY
HYPERLIQUID_SECRET_KEY=$($PY -c 'import secrets; print("0x" + secrets.token_hex(32))')
HYPERLIQUID_ACCOUNT_ADDRESS=$($PY -c 'import eth_account, os; print(eth_account.Account.from_key(os.environ["HYPERLIQUID_SECRET_KEY"]).address)')
export HYPERLIQUID_ACCOUNT_ADDRESS

$PY -m platforms.hyperliquid.localvenue --port 0 --seed 42 --initial-usd 10000 \
  --account "$HYPERLIQUID_ACCOUNT_ADDRESS" >"$WORK/venue.log" 2>&1 &
VENUE_PID=$!
trap 'kill "$VENUE_PID" 2>/dev/null || true' EXIT
for _ in $(seq 50); do grep -q '^localvenue: ' "$WORK/venue.log" && break; sleep 0.1; done
URL=$(sed -n 's/^localvenue: //p' "$WORK/venue.log")
[ -n "$URL" ] || { echo "demo-live: the local venue did not start; see $WORK/venue.log" >&2; exit 1; }

cat >"$WORK/config.json" <<JSON
{
  "config_version": 17,
  "interval_seconds": 3600,
  "db_file": "$WORK/state.db",
  "market_data": "simulated",
  "hyperliquid": {"base_url": "$URL"},
  "strategies": [
    {
      "id": "hl-macd-eth-live",
      "type": "perps",
      "platform": "hyperliquid",
      "script": "shared_scripts/check_hyperliquid.py",
      "args": ["macd", "ETH", "1h", "--mode=live"],
      "capital": 10000,
      "max_drawdown_pct": 50,
      "direction": "both",
      "leverage": 3,
      "margin_per_trade_usd": 1500,
      "stop_loss_pct": 2
    }
  ]
}
JSON

echo "demo-live: local venue at $URL, account $HYPERLIQUID_ACCOUNT_ADDRESS (throwaway key)"
echo "demo-live: config $WORK/config.json, state $WORK/state.db"
first=1
for h in 1 2 3 9 16 17 18 19; do
  t=$((DAY + h * 3600))
  $PY - "$URL" "$t" <<'PYEOF'
import json, sys, urllib.request
url, t = sys.argv[1], int(sys.argv[2])
req = urllib.request.Request(url + "/control", json.dumps({"op": "clock", "set_ms": t * 1000}).encode(),
                             {"Content-Type": "application/json"})
urllib.request.urlopen(req, timeout=5).read()
PYEOF
  allow=""
  [ "$first" = 1 ] && allow=1 # the first live start has no state DB yet: say so on purpose
  first=0
  GO_TRADER_NOW=$t GO_TRADER_ALLOW_MISSING_STATE=$allow .venv/bin/go-trader \
    --config "$WORK/config.json" --once >"$WORK/cycle.log" 2>&1 || {
    cat "$WORK/cycle.log" >&2
    exit 1
  }
  $PY - "$URL" "$WORK/state.db" "$t" "$HYPERLIQUID_ACCOUNT_ADDRESS" <<'PYEOF'
import json, sqlite3, sys, time, urllib.request
url, db, t, addr = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
body = json.dumps({"type": "clearinghouseState", "user": addr}).encode()
req = urllib.request.Request(url + "/info", body, {"Content-Type": "application/json"})
state = json.loads(urllib.request.urlopen(req, timeout=5).read())
venue = ", ".join(
    f"{p['position']['coin']} {float(p['position']['szi']):+g}" for p in state["assetPositions"]
) or "flat"
usdc = float(state["marginSummary"]["totalRawUsd"])
con = sqlite3.connect(db)
cash = con.execute("SELECT cash FROM strategies").fetchone()[0]
rows = con.execute("SELECT symbol, side, quantity FROM positions").fetchall()
cycle = con.execute("SELECT cycle_count FROM app_state").fetchone()[0]
orders = con.execute("SELECT leg, status FROM order_intents WHERE cycle = ?", (cycle,)).fetchall()
book = ", ".join(f"{s} {side} {q:g}" for s, side, q in rows) or "flat"
sent = ", ".join(f"{leg} {status}" for leg, status in orders) or "no order"
stamp = time.strftime("%H:%M", time.gmtime(t))
same = "=" if abs(cash - usdc) < 0.01 else "!="
print(f"{stamp}  book: {book:<20} cash {cash:>10.4f} {same} venue: {venue:<12} usdc {usdc:>10.4f}  ({sent})")
PYEOF
done
echo "demo-live: the book equals the venue after every cycle (cash to the cent). Try:"
echo "  .venv/bin/go-trader inspect --config $WORK/config.json hl-macd-eth-live"
