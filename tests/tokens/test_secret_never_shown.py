"""After the creating response, the value never appears anywhere again."""

import json
import logging

from django.core import serializers
from django.urls import reverse

from audit.models import AuditEvent
from tokens.models import AgentToken


def test_the_value_never_appears_again(admin_client, superuser_client, deployment, caplog):
    caplog.set_level(logging.DEBUG)
    response = admin_client.post(
        reverse("token-create", args=[deployment.pk]),
        {"name": "eu-cluster", "expiration": "30", "description": ""},
        headers={"HX-Request": "true"},
    )
    body = response.content.decode()
    start = body.index('value="ragt_') + len('value="')
    value = body[start : body.index('"', start)]

    tokens_url = reverse("tokens", args=[deployment.pk])
    pages = [
        admin_client.get(tokens_url),
        admin_client.get(tokens_url, headers={"HX-Request": "true"}),
        admin_client.get(reverse("token-create", args=[deployment.pk])),
        admin_client.get(reverse("agents", args=[deployment.pk]), headers={"HX-Request": "true"}),
        admin_client.get(reverse("deployment", args=[deployment.pk])),
    ]
    token = AgentToken.objects.get()
    assert token.created_by.username == "alice"
    pages.append(admin_client.get(reverse("token-delete", args=[deployment.pk, token.pk])))
    pages.append(superuser_client.get(reverse("admin:tokens_agenttoken_changelist")))
    pages.append(superuser_client.get(reverse("admin:tokens_agenttoken_change", args=[token.pk])))
    pages.append(superuser_client.get(reverse("admin:audit_auditevent_changelist")))
    for page in pages:
        assert page.status_code == 200
        assert value not in page.content.decode()
        assert value[5:] not in page.content.decode()

    events = serializers.serialize("json", AuditEvent.objects.all())
    assert json.loads(events), "creating a token must be audited"
    assert value not in events and value[5:] not in events
    assert value not in caplog.text
