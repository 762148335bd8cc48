from celery import shared_task

from alerts.evaluate import evaluate_all
from alerts.models import Delivery


@shared_task
def evaluate_alerts() -> int:
    return evaluate_all()


@shared_task(bind=True, max_retries=None)
def deliver(self, delivery_id: str) -> str:
    """Send one message; retries (with backoff) are scheduled by Celery, not slept through."""
    delivery = Delivery.objects.select_related("channel__deployment").filter(pk=delivery_id).first()
    if delivery is None or delivery.is_final:
        return "gone"
    wait = delivery.attempt()
    if wait is not None:
        raise self.retry(countdown=wait)
    return delivery.status


@shared_task
def prune_alert_deliveries() -> int:
    return Delivery.objects.prune()
