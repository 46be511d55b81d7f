"""Loopback HTTP servers that behave like the vendors' documented APIs (paging, limits, errors)."""
