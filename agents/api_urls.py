from django.urls import path

from agents.api import HeartbeatView

urlpatterns = [
    path(
        "deployments/<uuid:deployment_id>/heartbeat",
        HeartbeatView.as_view(),
        name="agent-heartbeat",
    ),
]
