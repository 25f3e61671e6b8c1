from django.urls import path

from . import views

urlpatterns = [path("outreach", views.outreach_embed, name="embed-outreach")]
