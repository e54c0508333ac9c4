"""What survives a restart: the in-memory book, the SQLite state DB and its rows, cashflows."""
