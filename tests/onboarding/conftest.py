import pytest
from django.urls import reverse

from onboarding.forms import defaults


@pytest.fixture
def url(deployment):
    return reverse("register-agent", args=[deployment.pk])


@pytest.fixture
def answers(deployment):
    """POST data of a complete wizard: the defaults plus the one thing they leave open."""

    def make(**changes) -> dict:
        data = defaults(deployment, "remote-agent")
        data["xcom_path"] = "s3://acme-xcom/xcom"
        for key, value in changes.items():
            if value is None:
                data.pop(key, None)
            else:
                data[key] = value
        return data

    return make
