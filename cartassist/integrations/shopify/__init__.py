"""Shopify adapter: webhooks, Web Pixel intake, Admin GraphQL discount codes."""
