"""WebSocket routes. The widget socket checks the Origin against the site's allowed
origins itself; the console socket accepts only this deployment's ALLOWED_HOSTS as
Origin (no cross-site WebSocket hijacking of an agent's session)."""

from typing import Any, cast

from channels.auth import AuthMiddlewareStack
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import path

from agents.consumers.console import ConsoleConsumer
from agents.consumers.widget import WidgetConsumer

# Channels routes ASGI applications through django.urls.path, which django-stubs types
# for views only: hence list[Any] and the casts.
websocket_urlpatterns: list[Any] = [
    path("ws/widget/", cast(Any, WidgetConsumer.as_asgi())),
    path(
        "ws/console/",
        cast(Any, AllowedHostsOriginValidator(AuthMiddlewareStack(ConsoleConsumer.as_asgi()))),
    ),
]
