"""The cartassist app's admin: sites, stall rules, carts (``carts``) and webhooks."""

from cartassist.admin import carts, webhooks

__all__ = ["carts", "webhooks"]
