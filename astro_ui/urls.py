from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpResponse, HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path, re_path

from agents import ingest
from alerts.metrics import metrics


def healthz(request) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


def favicon(request) -> HttpResponse:
    """Browsers ask for /favicon.ico on pages without an icon link (the admin site, JSON)."""
    return HttpResponsePermanentRedirect(static("img/logo.svg"))


urlpatterns = [
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    path("favicon.ico", favicon, name="favicon"),
    # Production serves the agent API before Django (astro_ui/asgi.py); this route is for the
    # development server and the test client, and answers with the same code.
    path(
        "api/agent/v1/deployments/<uuid:deployment_id>/heartbeat",
        ingest.view,
        name="agent-heartbeat",
    ),
    path(
        "api/agent/v1/deployments/<uuid:deployment_id>/test-runs/<uuid:run_id>",
        ingest.view,
        name="agent-test-run-report",
    ),
    re_path(r"^api/agent/", ingest.view),
    path("", include("api.urls")),
    path("", include("deployments.urls")),
    path("", include("deployments.ip_urls")),
    path("", include("agents.urls")),
    path("", include("tokens.urls")),
    path("", include("onboarding.urls")),
    path("", include("fleet.urls")),
    path("", include("alerts.urls")),
]
