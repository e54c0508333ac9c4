"""Test double for check_price.py: a fixed price for every symbol (GO_TRADER_FAKE_PRICE, default 100)."""

import json
import os
import sys

if "--probe-only" in sys.argv:
    sys.exit(0)
price = float(os.environ.get("GO_TRADER_FAKE_PRICE", "100"))
print(json.dumps({s: price for s in sys.argv[1:] if not s.startswith("--")}))
