from django.urls import path

from cartassist.integrations import views

urlpatterns = [
    path(
        "v1/integrations/shopify/<str:site_key>/webhooks",
        views.ShopifyWebhookView.as_view(),
        name="shopify-webhooks",
    ),
    path(
        "v1/integrations/woocommerce/<str:site_key>/webhooks",
        views.WooCommerceWebhookView.as_view(),
        name="woocommerce-webhooks",
    ),
    path("v1/integrations/shopify/pixel", views.ShopifyPixelView.as_view(), name="shopify-pixel"),
    path("v1/integrations/discount", views.NativeDiscountView.as_view(), name="native-discount"),
]
