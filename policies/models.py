"""Policies, versions, budgets, offers and grants arrive with the policy issue (#4)."""
