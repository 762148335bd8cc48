from django.urls import path

from deployments import views

urlpatterns = [
    path("", views.home, name="home"),
    path("workspaces/", views.workspaces, name="workspaces"),
    path("workspaces/<uuid:pk>/", views.workspace, name="workspace"),
    path("deployments/<uuid:pk>/", views.overview, name="deployment"),
    path("deployments/<uuid:pk>/settings/", views.deployment_settings, name="deployment-settings"),
]
