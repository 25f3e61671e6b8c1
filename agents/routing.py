"""WebSocket routes. The widget socket checks the Origin against the site's allowed
origins itself; the console socket accepts only this deployment's ALLOWED_HOSTS as
Origin (no cross-site WebSocket hijacking of an agent's session)."""

from channels.auth import AuthMiddlewareStack
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import path

from agents.consumers.console import ConsoleConsumer
from agents.consumers.widget import WidgetConsumer

websocket_urlpatterns = [
    path("ws/widget/", WidgetConsumer.as_asgi()),
    path(
        "ws/console/", AllowedHostsOriginValidator(AuthMiddlewareStack(ConsoleConsumer.as_asgi()))
    ),
]
