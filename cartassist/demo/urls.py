"""The demo storefront (included at /demo/ when CARTASSIST_DEMO_ENABLED)."""

from django.urls import path

from . import views

app_name = "demo"

urlpatterns = [
    path("", views.shop, name="shop"),
    path("products/<str:sku>/", views.product, name="product"),
    path("cart/", views.cart, name="cart"),
    path("cart/add/", views.cart_add, name="cart-add"),
    path("cart/update/", views.cart_update, name="cart-update"),
    path("cart/coupon/", views.cart_coupon, name="cart-coupon"),
    path("checkout/contact/", views.checkout_contact, name="checkout-contact"),
    path("checkout/shipping/", views.checkout_shipping, name="checkout-shipping"),
    path("checkout/payment/", views.checkout_payment, name="checkout-payment"),
    path("checkout/pay/", views.checkout_pay, name="checkout-pay"),
    path("checkout/grant/", views.grant_apply, name="checkout-grant"),
    path("orders/<str:order_id>/", views.order, name="order"),
]
