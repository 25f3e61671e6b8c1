from django.urls import path

from . import followups, helpdesk, outcomes, outreach, views

urlpatterns = [
    path("v1/widget/events", views.WidgetEventsView.as_view(), name="widget-events"),
    path("v1/server/events", views.ServerEventsView.as_view(), name="server-events"),
    path("v1/server/follow-ups", followups.FollowUpView.as_view(), name="server-follow-ups"),
    path("v1/server/helpdesk/queue", helpdesk.HelpdeskQueueView.as_view(), name="server-helpdesk"),
    path("v1/server/outreach", outreach.OutreachLookupView.as_view(), name="server-outreach"),
    path(
        "v1/server/interventions/<str:intervention_id>",
        outcomes.InterventionOutcomeView.as_view(),
        name="server-intervention-outcome",
    ),
    path(
        "v1/server/carts/<str:cart_id>/interventions",
        outcomes.CartOutcomesView.as_view(),
        name="server-cart-outcomes",
    ),
]
