from django.urls import path

from agents.api import HeartbeatView, TestRunReportView

urlpatterns = [
    path(
        "deployments/<uuid:deployment_id>/heartbeat",
        HeartbeatView.as_view(),
        name="agent-heartbeat",
    ),
    path(
        "deployments/<uuid:deployment_id>/test-runs/<uuid:run_id>",
        TestRunReportView.as_view(),
        name="agent-test-run-report",
    ),
]
