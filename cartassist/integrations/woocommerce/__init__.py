"""WooCommerce adapter: order webhooks, REST coupons."""
