"""Integrations of CartAssist into shop platforms (docs/integrations/).

- Hosted platforms (Shopify, WooCommerce) are served by this Django app of CartAssist
  (label ``integrations``): their webhooks come in here, and a grant becomes the
  platform's native discount. The adapter interface is ``base.PlatformAdapter``; adapters
  register in ``registry``. Mapping and request building are pure (no Django); ``services``
  owns the rows, ``views`` and ``tasks`` stay thin.
- ``oscar`` is different: an app installed in the *shop's* django-oscar project (the
  ``oscar`` extra). It runs in the shop's process and talks to CartAssist only over HTTP,
  through the stdlib-only :mod:`cartassist.client`; it imports no Django app of CartAssist
  (an import-linter contract in pyproject.toml).

This module imports nothing, so importing ``cartassist.integrations.oscar`` in a shop loads
neither.
"""
