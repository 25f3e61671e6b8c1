"""Admin for merchandisers: policies (with their versions, budget usage and the
simulator) and the read-only record of offers, grants and the audit log
(docs/POLICIES.md)."""

from policies.admin import audit, policy

__all__ = ["audit", "policy"]
