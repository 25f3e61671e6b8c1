from django.urls import path

from . import followups, views

urlpatterns = [
    path("v1/widget/events", views.WidgetEventsView.as_view(), name="widget-events"),
    path("v1/server/events", views.ServerEventsView.as_view(), name="server-events"),
    path("v1/server/follow-ups", followups.FollowUpView.as_view(), name="server-follow-ups"),
]
