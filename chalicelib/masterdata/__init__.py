"""The master-data dictionary: identity rules (match keys, survivorship), shared code lists, the dictionary view."""
