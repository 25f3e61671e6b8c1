"""The embedded demo: a small storefront at /demo/ and the seed data it runs on."""
