"""At most 50 live tokens per deployment, even when creates race."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from tokens.models import MAX_TOKENS_PER_DEPLOYMENT, AgentToken


def test_deleted_tokens_free_their_place(deployment, admin):
    tokens = [
        AgentToken.objects.issue(deployment, name=f"t{i}", expires_in_days=None)[0]
        for i in range(MAX_TOKENS_PER_DEPLOYMENT)
    ]
    with pytest.raises(ValidationError):
        AgentToken.objects.issue(deployment, name="extra", expires_in_days=None)
    tokens[0].revoke(by=admin)
    AgentToken.objects.issue(deployment, name="extra", expires_in_days=None)
    assert AgentToken.objects.live().count() == MAX_TOKENS_PER_DEPLOYMENT


def test_the_limit_is_per_deployment(deployment, other_deployment):
    for i in range(MAX_TOKENS_PER_DEPLOYMENT):
        AgentToken.objects.issue(deployment, name=f"t{i}", expires_in_days=None)
    AgentToken.objects.issue(other_deployment, name="t0", expires_in_days=None)
    assert AgentToken.objects.filter(deployment=other_deployment).count() == 1


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks need PostgreSQL (SQLite has none)"
)
@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_cannot_make_51(deployment):
    for i in range(MAX_TOKENS_PER_DEPLOYMENT - 2):
        AgentToken.objects.issue(deployment, name=f"t{i}", expires_in_days=None)
    start = threading.Barrier(8)
    created, refused = [], []

    def create(n: int) -> None:
        try:
            start.wait()
            AgentToken.objects.issue(deployment, name=f"racer-{n}", expires_in_days=30)
            created.append(n)
        except ValidationError as e:
            refused.append(e)
        finally:
            connection.close()

    threads = [threading.Thread(target=create, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(created) == 2
    assert len(refused) == 6
    assert all("already has 50 agent tokens" in str(e) for e in refused)
    assert AgentToken.objects.live().filter(deployment=deployment).count() == 50


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks need PostgreSQL (SQLite has none)"
)
@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_with_one_name_make_one_token(deployment):
    start = threading.Barrier(4)
    created, refused = [], []

    def create() -> None:
        try:
            start.wait()
            AgentToken.objects.issue(deployment, name="same", expires_in_days=None)
            created.append(1)
        except ValidationError as e:
            refused.append(e)
        finally:
            connection.close()

    threads = [threading.Thread(target=create) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(created) == 1
    assert all("already exists" in str(e) for e in refused)
