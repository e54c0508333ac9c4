"""Operator commands beside the daemon: init, inspect, export, reset-kill-switch."""
