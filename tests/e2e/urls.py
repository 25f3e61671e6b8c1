"""The project's URLs with the demo storefront always mounted at /demo/.

``cartassist.urls`` mounts it only when CARTASSIST_DEMO_ENABLED was on at import time
(embedded mode); tests of the demo run in production mode too.
"""

from django.urls import include, path

from cartassist import urls as project_urls

urlpatterns = [
    *(p for p in project_urls.urlpatterns if str(p.pattern) != "demo/"),
    path("demo/", include("cartassist.demo.urls")),
]
