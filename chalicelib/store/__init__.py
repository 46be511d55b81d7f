"""DynamoDB persistence: state, audit trail, outbox events, quarantine, raw inputs."""
