from django.contrib.auth.views import LogoutView
from django.urls import path

from . import views

urlpatterns = [
    path("console/", views.console, name="console"),
    path("console/login/", views.ConsoleLoginView.as_view(), name="console-login"),
    path("console/logout/", LogoutView.as_view(next_page="/console/login/"), name="console-logout"),
    path(
        "console/api/conversations/<int:conversation_id>/cart",
        views.conversation_cart,
        name="console-conversation-cart",
    ),
    path("console/api/carts/<int:cart_id>", views.cart_detail, name="console-cart"),
    path(
        "console/api/conversations/<int:conversation_id>/remedies",
        views.conversation_remedies,
        name="console-conversation-remedies",
    ),
    path("console/api/approvals", views.console_approvals, name="console-approvals"),
    path("console/api/saved-replies", views.console_saved_replies, name="console-saved-replies"),
    path("console/api/agents", views.console_agents, name="console-agents"),
    path("verify/<str:code>", views.verify_page, name="verify-page"),
    path("email/resume/<str:token>", views.email_resume_page, name="email-resume"),
    path("email/unsubscribe/<str:token>", views.email_unsubscribe, name="email-unsubscribe"),
]
