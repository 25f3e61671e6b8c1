"""The admin site's brand: CartAssist's name in the header, the page titles and the
index, instead of Django's (docs/OPERATIONS.md, "Admin")."""

from __future__ import annotations

from django.contrib import admin

SITE_HEADER = "CartAssist administration"
SITE_TITLE = "CartAssist administration"
INDEX_TITLE = "Shops, policies and the record"


def admin_site_brand(site: admin.AdminSite) -> None:
    """Name ``site`` for CartAssist: the header on every admin page (and the login page),
    the suffix of every page title, the index's heading."""
    site.site_header = SITE_HEADER
    site.site_title = SITE_TITLE
    site.index_title = INDEX_TITLE


admin_site_brand(admin.site)
