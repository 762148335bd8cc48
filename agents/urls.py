from django.urls import path

from agents import run_views, views

urlpatterns = [
    path("deployments/<uuid:pk>/agents/bulk/", views.agents_bulk, name="agents-bulk"),
    path("deployments/<uuid:pk>/test-runs/", run_views.test_runs, name="test-runs"),
    path("deployments/<uuid:pk>/test-runs/<uuid:run_id>/", run_views.test_run, name="test-run"),
    path("deployments/<uuid:pk>/agents/", views.agents, name="agents"),
    path("deployments/<uuid:pk>/agents/table", views.agents_table, name="agents-table"),
    path(
        "deployments/<uuid:pk>/agents/<uuid:agent_id>/cordon/",
        views.agent_cordon,
        name="agent-cordon",
    ),
    path(
        "deployments/<uuid:pk>/agents/<uuid:agent_id>/uncordon/",
        views.agent_uncordon,
        name="agent-uncordon",
    ),
    path(
        "deployments/<uuid:pk>/agents/<uuid:agent_id>/delete/",
        views.agent_delete,
        name="agent-delete",
    ),
]
