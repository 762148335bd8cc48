"""At most 50 live API tokens per user, even when creates race."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from api.models import MAX_TOKENS_PER_USER, ApiToken
from deployments.models import Role


def _issue(user, deployment, name: str):
    return ApiToken.objects.issue(user, name=name, role=Role.VIEWER, deployment=deployment)


def test_revoked_tokens_free_their_place(admin, deployment):
    tokens = [_issue(admin, deployment, f"t{i}")[0] for i in range(MAX_TOKENS_PER_USER)]
    with pytest.raises(ValidationError, match="already have 50 API tokens"):
        _issue(admin, deployment, "extra")
    tokens[0].revoke(by=admin)
    _issue(admin, deployment, "extra")
    assert ApiToken.objects.filter(user=admin).live().count() == MAX_TOKENS_PER_USER


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks need PostgreSQL (SQLite has none)"
)
@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_cannot_make_51(admin, deployment):
    for i in range(MAX_TOKENS_PER_USER - 2):
        _issue(admin, deployment, f"t{i}")
    start = threading.Barrier(8)
    created, refused = [], []

    def create(n: int) -> None:
        try:
            start.wait()
            _issue(admin, deployment, f"racer-{n}")
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
    assert all("already have 50 API tokens" in str(e) for e in refused)
    assert ApiToken.objects.filter(user=admin).live().count() == MAX_TOKENS_PER_USER
