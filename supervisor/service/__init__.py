"""The process as a service: single-instance lock, systemd notify, deployed version, lean imports."""
