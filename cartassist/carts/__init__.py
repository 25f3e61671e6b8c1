"""Carts: sites, carts, events, stall rules, visitors, shoppers, interventions, follow-up
contacts; ingestion and the sweep's claim-and-decide step (docs/ARCHITECTURE.md)."""
