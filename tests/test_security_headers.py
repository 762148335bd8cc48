"""The Content-Security-Policy and the other security headers, and pages that need no inline
script or style to work under them."""

import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

INLINE = [
    re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I),
    re.compile(r"<style[\s>]", re.I),
    re.compile(r"\sstyle=\"", re.I),
    re.compile(r"\son[a-z]+=\"", re.I),
    re.compile(r"javascript:", re.I),
]


def _directives(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    return {
        name: values
        for name, *values in (part.split() for part in policy.split(";") if part.strip())
    }


def test_every_page_carries_a_strict_policy(admin_client, deployment):
    policy = _directives(admin_client.get(reverse("agents", args=[deployment.pk])))
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]


def test_the_log_in_page_and_the_apis_carry_it_too(client, deployment):
    for url in ["/login/", "/api/v1/docs/", "/api/v1/openapi.yaml", "/healthz"]:
        assert "script-src 'self'" in client.get(url)["Content-Security-Policy"], url


def test_the_other_security_headers(admin_client, deployment):
    response = admin_client.get(reverse("agents", args=[deployment.pk]))
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


@pytest.mark.parametrize(
    "name",
    [
        "agents",
        "tokens",
        "agent-queues",
        "deployment",
        "deployment-settings",
        "register-agent",
        "token-create",
    ],
)
def test_console_pages_have_no_inline_script_or_style(admin_client, deployment, name):
    body = admin_client.get(reverse(name, args=[deployment.pk])).content.decode()
    assert [p.pattern for p in INLINE if p.search(body)] == []


def test_the_log_in_and_account_pages_have_none_either(admin_client, client):
    for page in [client.get("/login/"), admin_client.get(reverse("api-tokens"))]:
        body = page.content.decode()
        assert [p.pattern for p in INLINE if p.search(body)] == []


def test_the_api_docs_load_their_start_up_script_from_a_file(client):
    body = client.get("/api/v1/docs/").content.decode()
    assert [p.pattern for p in INLINE if p.search(body)] == []
    script = re.search(r'<script src="([^"]*\?script=[^"]*)"', body)
    assert script is not None
    response = client.get(script.group(1).replace("&amp;", "&"))
    assert response.status_code == 200
    assert "javascript" in response["Content-Type"]
    assert "SwaggerUIBundle" in response.content.decode()
