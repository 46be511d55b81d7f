"""The webhook door: the request as received, signature verification, and splitting a delivery into records."""
