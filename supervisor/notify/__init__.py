"""Discord and Telegram notifications through a delivery outbox (issue 9).

* :mod:`.messages` builds a cycle's messages (trade alerts, summaries, owner DMs) that commit
  with the cycle; :mod:`.render` holds the Jinja2 templates and splits long bodies;
  :mod:`.routing` picks channels (upstream §3.2);
* :mod:`.sender` delivers the outbox from a thread through ``shared_scripts/notify_send.py``;
  :mod:`.outbox` reads and marks its rows; :mod:`.hooks` is what the daemon calls;
  :mod:`.selftest` builds ``go-trader notify-test``'s messages.
"""

from supervisor.notify.messages import broadcast, critical, messages_for_cycle, owner_messages

__all__ = ["broadcast", "critical", "messages_for_cycle", "owner_messages"]
