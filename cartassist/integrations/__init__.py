"""Platform adapters: hosted shops (Shopify, WooCommerce) plugged into CartAssist.

docs/integrations/shopify.md, docs/integrations/woocommerce.md. The adapter interface is
``base.PlatformAdapter``; adapters register in ``registry``. Mapping and request building
are pure (no Django); ``services`` owns the rows, ``views`` and ``tasks`` stay thin.
"""
