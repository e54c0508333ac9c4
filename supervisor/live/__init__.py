"""Live trading: the seam between the book's decisions and a venue's real orders.

docs/architecture.md, "Live", is the design. In short, each cycle:

1. ``resolve``: intents left unresolved by a crash are looked up on the venue by their client
   order id (``--order-status``) and booked before anything else; while one stays unknown the
   strategy's account does not trade (never twice);
2. the cycle runs as for paper, with the venue's account read (``--account-state``) beside the
   signal checks; its ``reconcile`` step books what the venue did on its own (stop and target
   fills, external closes, funding) at the venue's prices and fees, and leaves what it cannot
   explain as a gap that holds entries on the coin and alerts;
3. ``decide``: the positions the cycle wanted (opens, closes, flips, breaker and kill-switch
   flattening) are turned back into orders: the virtual booking is undone and one intent per
   order is committed before it leaves;
4. ``send``: each intent goes out as a side-effect worker run (``--execute`` with its cloid);
   its fill is booked at the venue's price, quantity and fee, or the intent fails;
5. ``protect``: every live position's stop and targets are made to rest on the venue as in
   the book (``--sync-protection``), sized at most to the on-chain quantity.

Nothing here imports a venue SDK: the workers in ``shared_scripts/`` talk to the venue.
"""
