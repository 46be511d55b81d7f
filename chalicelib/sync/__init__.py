"""Scheduled incremental sync: pull changed records since a watermark and enqueue them."""
