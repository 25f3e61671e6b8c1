"""The integration's URLs; in the shop's urls.py:

path("cartassist/", include("cartassist.integrations.oscar.urls")),
"""

from django.urls import path

from .views import apply_grant_view

app_name = "cartassist_oscar"

urlpatterns = [
    path("grants/apply", apply_grant_view, name="apply-grant"),
]
