from django.urls import path

from . import views

urlpatterns = [
    path("v1/widget/events", views.WidgetEventsView.as_view(), name="widget-events"),
    path("v1/server/events", views.ServerEventsView.as_view(), name="server-events"),
]
