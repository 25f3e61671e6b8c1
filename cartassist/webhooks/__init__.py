"""Webhooks to the shop: endpoints, events, deliveries; emit, claim, sign, deliver
(docs/WEBHOOKS.md)."""
