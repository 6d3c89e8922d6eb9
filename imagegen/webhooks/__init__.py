"""Webhook delivery: Standard Webhooks signing, the SSRF guard and one pinned POST attempt."""
