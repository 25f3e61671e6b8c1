from django.apps import AppConfig


class CartAssistConfig(AppConfig):
    name = "cartassist"
    label = "cartassist"
    verbose_name = "CartAssist: sites, carts and stalls"
