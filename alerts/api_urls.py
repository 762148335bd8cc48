from django.urls import path

from alerts import api

CHANNELS = "organizations/<uuid:org_id>/deployments/<uuid:dep_id>/alert-channels"

urlpatterns = [
    path(CHANNELS, api.ChannelList.as_view(), name="api-alert-channels"),
    path(f"{CHANNELS}/<uuid:channel_id>", api.ChannelDetail.as_view(), name="api-alert-channel"),
    path(
        f"{CHANNELS}/<uuid:channel_id>/deliveries",
        api.DeliveryList.as_view(),
        name="api-alert-deliveries",
    ),
    path(f"{CHANNELS}/<uuid:channel_id>/test", api.ChannelTest.as_view(), name="api-alert-test"),
]
