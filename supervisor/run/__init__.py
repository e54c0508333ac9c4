"""Running worker processes: jobs, the executor, one process under limits, its output, the probe."""
