"""The operator surface: authenticated HTTP endpoints over audit, events, quarantine, mappings."""
