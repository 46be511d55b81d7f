"""Triggers: golden-record checks that turn canonical changes into business events (SPEC §2)."""
