from datetime import timedelta

import time_machine
from django.utils import timezone

from alerts.models import Delivery
from alerts.tasks import deliver, prune_alert_deliveries


def test_it_prunes_deliveries_past_their_retention(make_channel, settings):
    settings.ALERT_DELIVERY_RETENTION_DAYS = 30
    channel = make_channel(url="http://127.0.0.1:9/")
    with time_machine.travel(timezone.now() - timedelta(days=31)):
        channel.send_test()
    kept = channel.send_test()
    assert prune_alert_deliveries() == 1
    assert list(Delivery.objects.values_list("pk", flat=True)) == [kept.pk]


def test_a_delivery_of_a_deleted_channel_is_dropped(make_channel):
    channel = make_channel(url="http://127.0.0.1:9/")
    delivery = channel.send_test()
    channel.remove()
    assert deliver.run(str(delivery.pk)) == "gone"
