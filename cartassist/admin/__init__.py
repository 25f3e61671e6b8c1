"""The cartassist app's admin: the site's brand (``site``), sites, stall rules, carts
(``carts``) and webhooks."""

from cartassist.admin import carts, site, webhooks

__all__ = ["carts", "site", "webhooks"]
