"""Outgoing webhooks: subscriptions and signed deliveries, and the pinned, guarded HTTP client
that sends them to partner-chosen URLs (never inside the centre's network)."""
