from django.urls import URLPattern, URLResolver, include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from api import account, errors, test_runs, views

DEPLOYMENT = "organizations/<uuid:org_id>/deployments/<uuid:dep_id>"

v1: list[URLPattern | URLResolver] = [
    path(DEPLOYMENT, views.DeploymentDetail.as_view(), name="api-deployment"),
    path(f"{DEPLOYMENT}/agent-tokens", views.AgentTokenList.as_view(), name="api-agent-tokens"),
    path(
        f"{DEPLOYMENT}/agent-tokens/<uuid:token_id>",
        views.AgentTokenDetail.as_view(),
        name="api-agent-token",
    ),
    path(f"{DEPLOYMENT}/agents", views.AgentList.as_view(), name="api-agents"),
    path(f"{DEPLOYMENT}/agents/<uuid:agent_id>", views.AgentDetail.as_view(), name="api-agent"),
    path(
        f"{DEPLOYMENT}/agents/<uuid:agent_id>/action",
        views.AgentAction.as_view(),
        name="api-agent-action",
    ),
    path(f"{DEPLOYMENT}/test-runs", test_runs.TestRunList.as_view(), name="api-test-runs"),
    path(
        f"{DEPLOYMENT}/test-runs/<uuid:run_id>",
        test_runs.TestRunDetail.as_view(),
        name="api-test-run",
    ),
    path("", include("alerts.api_urls")),
    path("openapi.yaml", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file (no inline script).
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api-schema"),
        name="api-docs",
    ),
    # [\s\S], not ".": a path may hold an encoded newline (%0A), and that must 404 in JSON too.
    re_path(r"^[\s\S]*$", errors.not_found),
]

# Mounted at the site root: the API under api/v1/, and the page where people manage their tokens.
urlpatterns = [
    path("api/v1/", include(v1)),
    path("account/api-tokens/", account.api_tokens, name="api-tokens"),
    path(
        "account/api-tokens/<uuid:token_id>/revoke",
        account.revoke_api_token,
        name="api-token-revoke",
    ),
]
