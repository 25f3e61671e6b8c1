from django.urls import path

from . import views

urlpatterns = [
    path("v1/server/grants/verify", views.GrantVerifyView.as_view(), name="grant-verify"),
    path("v1/server/grants/redeem", views.GrantRedeemView.as_view(), name="grant-redeem"),
]
