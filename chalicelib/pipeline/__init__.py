"""Processing a queued record: map → resolve ids → load state → triggers → one atomic commit."""
