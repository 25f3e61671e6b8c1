from django.urls import path

from . import views

urlpatterns = [
    path("", views.analytics_page, name="analytics"),
    path("export.csv", views.analytics_export_csv, name="analytics-export-csv"),
]
