"""CartAssist for django-oscar shops: ``pip install 'cartassist[oscar]'``.

An installable Django app for an Oscar shop
(``INSTALLED_APPS += ["cartassist.integrations.oscar"]``).
It turns what happens in Oscar's baskets and checkout into signed server events, embeds
the widget in the shop's templates and turns accepted grants into native Oscar vouchers.
Step-by-step set-up: docs/integrations/oscar.md.
"""
