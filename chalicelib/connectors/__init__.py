"""Clients for the systems salesbridge pulls from (the sync Lambda's side only).

Nothing here is imported by the webhook path: httpx and tenacity load only when a
sync or backfill actually builds a client.
"""
