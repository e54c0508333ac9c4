"""Risk rules: per-strategy circuit breakers and the book-wide kill switch."""
