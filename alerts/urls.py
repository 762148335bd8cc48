from django.urls import path

from alerts import views

CHANNEL = "deployments/<uuid:pk>/alerts/<uuid:channel_id>"

urlpatterns = [
    path("deployments/<uuid:pk>/alerts/", views.alerts, name="alerts"),
    path("deployments/<uuid:pk>/alerts/new/", views.channel_create, name="alert-channel-create"),
    path(f"{CHANNEL}/", views.channel, name="alert-channel"),
    path(f"{CHANNEL}/edit/", views.channel_edit, name="alert-channel-edit"),
    path(f"{CHANNEL}/test/", views.channel_test, name="alert-channel-test"),
    path(f"{CHANNEL}/enable/", views.channel_enable, name="alert-channel-enable"),
    path(f"{CHANNEL}/delete/", views.channel_delete, name="alert-channel-delete"),
]
