"""The config file: its model, loading, checks, migrations and sections."""
