from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpResponse, HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path

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
    path("api/agent/v1/", include("agents.api_urls")),
    path("", include("api.urls")),
    path("", include("deployments.urls")),
    path("", include("deployments.ip_urls")),
    path("", include("agents.urls")),
    path("", include("tokens.urls")),
    path("", include("onboarding.urls")),
    path("", include("fleet.urls")),
    path("", include("alerts.urls")),
]
