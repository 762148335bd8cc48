from django.urls import path

from deployments import ip_views

urlpatterns = [
    path("deployments/<uuid:pk>/settings/ip-ranges/", ip_views.ip_ranges, name="ip-ranges"),
    path(
        "deployments/<uuid:pk>/settings/ip-ranges/allow/", ip_views.allow_ip, name="ip-ranges-allow"
    ),
]
