from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from cartassist.api.analytics import AnalyticsView
from cartassist.api.pacing_analytics import HelpdeskPacingView


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("admin/", admin.site.urls),
    path("analytics/", include("cartassist.analytics.urls")),
    path("api/v1/analytics", AnalyticsView.as_view(), name="analytics-api"),
    path("api/v1/analytics/helpdesk", HelpdeskPacingView.as_view(), name="analytics-helpdesk-api"),
    path("api/", include("cartassist.api.urls")),
    path("api/", include("agents.api.urls")),
    path("api/", include("policies.api.urls")),
    path("api/", include("cartassist.integrations.urls")),
    path("", include("agents.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("healthz", healthz, name="healthz"),
    path("embed/", include("cartassist.embed.urls")),
]

if settings.CARTASSIST_DEMO_ENABLED:
    urlpatterns.append(path("demo/", include("cartassist.demo.urls")))
