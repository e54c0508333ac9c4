"""OKX's live modes and account scripts, over :mod:`platforms.okx.execution`.

``check_okx.py --execute`` / ``--order-status`` are routed here by their sentinel flag
(:mod:`.cli`); ``close_okx_position.py``, ``fetch_okx_positions.py``, ``fetch_okx_balance.py``,
``fetch_okx_bills.py`` and ``check_balance.py --platform=okx`` use :mod:`.common`. argv and JSON
are upstream's (upstream-contract §1.5, §1.8, §1.9, §1.10) plus the live-venue contract's
additions: ``--client-order-id``, the read-back ``fill`` with ``qty`` in coins, ``--order-status``
and an explicit ``already_flat``.
"""
