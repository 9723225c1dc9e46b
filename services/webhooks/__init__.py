"""Outgoing webhooks worker: signed POSTs of change-feed entries to partners' URLs."""
