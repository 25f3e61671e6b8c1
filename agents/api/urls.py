from django.urls import path

from . import views

urlpatterns = [
    path("v1/widget/session", views.WidgetSessionView.as_view(), name="widget-session"),
    path("v1/widget/resume", views.WidgetResumeView.as_view(), name="widget-resume"),
    path("v1/verify/<str:code>", views.VerificationView.as_view(), name="verify-api"),
]
