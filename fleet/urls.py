from django.urls import path

from fleet import views

urlpatterns = [
    path("deployments/<uuid:pk>/agents/queues/", views.queues, name="agent-queues"),
    path(
        "deployments/<uuid:pk>/agents/queues/table", views.queues_table, name="agent-queues-table"
    ),
    path("deployments/<uuid:pk>/agents/<uuid:agent_id>/", views.agent_detail, name="agent-detail"),
    path(
        "deployments/<uuid:pk>/settings/stale-agents/",
        views.stale_agents,
        name="stale-agents",
    ),
]
