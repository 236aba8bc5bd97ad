"""Webhooks to the CRM: registrations, the outbox, what causes each event, and delivery.

store: the tables, registration and the outbox (claims with leases); events: which ingested
rows and scores become which webhook event, written in the causing transaction; delivery:
HMAC signing, retries with backoff and the background worker.
"""
