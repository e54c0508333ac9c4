"""check_hyperliquid.py's live modes, kept out of the script so it stays a small dispatcher.

``check_hyperliquid.py`` routes argv carrying one of the live sentinel flags here
(:func:`cli.wants_live_mode`); the signal check and ``--fetch-atr`` stay in
``shared_scripts/signal_check.py``. Modules:

- :mod:`.cli`: the one parser (every mode's flags), validation, the ``--mode=live`` refusal and
  the dispatch through :func:`shared_tools.worker.run_worker`;
- :mod:`.orders`: ``--execute``, ``--update-stop-loss``, ``--limit-open``, ``--limit-status``,
  ``--cancel-order``;
- :mod:`.protection`: ``--sync-protection`` (idempotent stop + take-profit ladder);
- :mod:`.reads`: ``--order-status`` and ``--account-state`` (read-only, address only);
- :mod:`.common`: clock, coin names, margin/leverage, cancels.

Orders go through :class:`platforms.hyperliquid.execution.HyperliquidExecution`; the contract is
docs/architecture.md, "The worker contract".
"""
