"""Platform plumbing every Lambda shares: settings, AWS clients, secrets, tracing, the inbound queue."""
