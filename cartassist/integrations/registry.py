"""Loads every adapter so that it registers itself (base.register). Add new ones here."""

from __future__ import annotations

from cartassist.integrations.base import adapter_for, platforms
from cartassist.integrations.shopify.adapter import shopify
from cartassist.integrations.woocommerce.adapter import woocommerce

__all__ = ["adapter_for", "platforms", "shopify", "woocommerce"]
