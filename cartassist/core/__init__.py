"""Core: row locks, per-item transactions, shared rate limits, roles, ports and signing;
imported by every domain, imports none of them (ADR 0015)."""
