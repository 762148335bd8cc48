import io

import pytest
import yaml
from django.contrib.sessions.models import Session
from django.core.management import call_command

from audit.models import AuditEvent
from onboarding import values
from tokens.models import MAX_TOKENS_PER_DEPLOYMENT, AgentToken

HTMX = {"HTTP_HX_REQUEST": "true"}


def _download(response) -> dict:
    assert response.status_code == 200, response.content.decode()[:2000]
    assert response["Content-Disposition"] == 'attachment; filename="values-etl-prod.yaml"'
    data = yaml.safe_load(response.content)
    values.validate(data)
    return data


def _everything_persisted(redis_client) -> str:
    out = io.StringIO()
    call_command("dumpdata", stdout=out)
    cached = [str(redis_client.dump(key)) for key in redis_client.scan_iter()]
    return out.getvalue() + "".join(cached)


# --- access --------------------------------------------------------------------------------------


def test_it_shows_the_wizard_to_an_admin(admin_client, url, deployment):
    response = admin_client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="register-form"' in html
    assert "1 thing to fix before the file is ready" in html
    assert f'href="/deployments/{deployment.pk}/agents/"' in html  # back to the Agents view


def test_it_redirects_anonymous_visitors_to_log_in(client, url, answers):
    for response in (client.get(url), client.post(url, answers())):
        assert response.status_code == 302
        assert response.url.startswith("/login/")


@pytest.mark.parametrize("persona", ["stranger_client", "viewer_client", "operator_client"])
def test_it_turns_away_everyone_but_admins(request, persona, url, answers):
    client = request.getfixturevalue(persona)
    expected = 404 if persona == "stranger_client" else 403
    assert client.get(url).status_code == expected
    assert client.post(url, answers(action="generate")).status_code == expected
    assert not AgentToken.objects.exists()
    assert not AuditEvent.objects.filter(action="agent.register_values").exists()


def test_it_says_not_found_for_an_unknown_deployment(admin_client):
    response = admin_client.get(
        "/deployments/00000000-0000-0000-0000-000000000000/agents/register/"
    )
    assert response.status_code == 404


def test_it_allows_only_get_and_post(admin_client, url):
    assert admin_client.put(url).status_code == 405
    assert admin_client.delete(url).status_code == 405


# --- preview -------------------------------------------------------------------------------------


def test_the_htmx_preview_renders_only_the_preview(admin_client, url, answers):
    response = admin_client.post(url, answers(action="preview"), **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="preview"')
    assert "<html" not in html
    assert 'id="register-form"' not in html
    assert "namespace</span>: remote-agents" in html
    assert "Schema valid" in html


def test_the_htmx_preview_lists_what_to_fix(admin_client, url, answers):
    response = admin_client.post(url, answers(namespace="Agents_1"), **HTMX)
    html = response.content.decode()
    assert "1 thing to fix" in html
    assert 'href="#id_namespace"' in html
    assert "values-yaml" not in html


def test_without_javascript_the_preview_shows_errors_at_their_fields(admin_client, url, answers):
    response = admin_client.post(url, answers(action="preview", namespace="Agents"))
    html = response.content.decode()
    assert "<html" in html
    assert 'id="id_namespace-error"' in html
    assert "must be lowercase" in html


def test_without_javascript_the_preview_shows_the_file(admin_client, url, answers):
    html = admin_client.post(url, answers(action="preview")).content.decode()
    assert 'id="values-yaml"' in html
    assert "helm install etl-prod astronomer/astro-remote-execution-agent" in html


def test_a_preview_never_creates_a_token(admin_client, url, answers):
    admin_client.post(url, answers(action="preview"))
    admin_client.post(url, answers(action="preview", token_inline="on", token_secret_name=""))
    assert not AgentToken.objects.exists()


def test_add_worker_adds_a_filled_in_row(admin_client, url, answers):
    response = admin_client.post(url, answers(action="add-worker"), **HTMX)
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="wizard"')
    assert 'name="workers-1-name" value="worker-2"' in html
    assert 'name="workers-TOTAL_FORMS" value="2"' in html
    assert "Schema valid" in html


def test_add_worker_works_without_javascript(admin_client, url, answers):
    html = admin_client.post(url, answers(action="add-worker")).content.decode()
    assert "<html" in html
    assert 'value="worker-2"' in html


@pytest.mark.parametrize(
    "garbage",
    [
        {"workers-TOTAL_FORMS": "lots"},
        {"workers-TOTAL_FORMS": "0"},
        {"workers-TOTAL_FORMS": "5000"},
        {"token_source": "stolen"},
        {"secret_backend_kwargs": "\x00"},
        {"log_level": ""},
        {"dag_source": "object-storage", "storage_url": "s3://" + "a" * 100_000},
        {"dag_source": "object-storage", "storage_url": "s3:///dags"},
        {"dag_refresh_interval": "9" * 5000},
        {"dag_source": "git", "git_tracking_ref": "main\nagentToken: x"},
        {"workers-0-queues": "a," * 5000},
        {"sentinel_enabled": "on", "sentinel_image": ":"},
    ],
)
@pytest.mark.parametrize("action", ["preview", "add-worker", "generate"])
def test_bad_input_is_never_a_server_error(admin_client, url, answers, garbage, action):
    response = admin_client.post(url, answers(action=action, **garbage))
    assert response.status_code == 200
    assert "Content-Disposition" not in response
    assert not AgentToken.objects.exists()


def test_an_empty_post_lists_every_missing_answer(admin_client, url):
    html = admin_client.post(url, {}).content.decode()
    assert "things to fix" in html


# --- generating the file -------------------------------------------------------------------------


def test_it_downloads_a_file_for_an_existing_token_in_a_secret(admin_client, url, answers):
    response = admin_client.post(url, answers(action="generate", token_source="existing"))
    data = _download(response)
    assert data["agentTokenSecretName"] == "agent-token"
    assert data["agentToken"] is None
    assert response["Cache-Control"] == "no-store"
    assert not AgentToken.objects.exists()
    event = AuditEvent.objects.get(action="agent.register_values")
    assert event.details["token_method"] == "agentTokenSecretName"
    assert event.details["token_source"] == "existing"
    assert event.actor_label == "alice"


def test_it_puts_registry_credentials_into_the_pull_secret(admin_client, url, answers):
    data = _download(
        admin_client.post(
            url,
            answers(
                action="generate",
                token_source="existing",
                pull_secret_name="",
                registry="registry.example.com",
                registry_username="robot",
                registry_password="hunter2-registry",
            ),
        )
    )
    assert data["imagePullSecretName"] is None
    assert '"registry.example.com"' in data["imagePullSecretData"]
    assert "hunter2-registry" not in str(AuditEvent.objects.values_list("details", flat=True))


def test_an_inline_token_appears_in_that_one_download_only(
    admin_client, url, answers, deployment, redis_client
):
    post = answers(action="generate", token_name="edge-1", token_secret_name="", token_inline="on")
    data = _download(admin_client.post(url, post))
    value = data["agentToken"]
    token = AgentToken.objects.get(deployment=deployment)
    assert token.name == "edge-1"
    assert value.startswith("ragt_")
    assert (
        data["astroDeploymentAPIURL"]
        == f"http://testserver/api/agent/v1/deployments/{deployment.pk}/"
    )

    event = AuditEvent.objects.get(action="agent.register_values")
    assert event.details["token_method"] == "agentToken"
    assert event.details["token"] == "edge-1"

    again = admin_client.post(url, post)
    assert again.status_code == 200
    assert "Content-Disposition" not in again
    assert value not in again.content.decode()
    assert "A token with this name already exists." in again.content.decode()
    assert value not in admin_client.get(url).content.decode()

    assert value not in _everything_persisted(redis_client)
    for session in Session.objects.all():
        assert value not in str(session.get_decoded())


def test_a_new_token_for_a_secret_is_shown_once_with_its_command(
    admin_client, url, answers, deployment, redis_client
):
    post = answers(action="generate", token_name="edge-2")
    response = admin_client.post(url, post)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Content-Disposition" not in response
    assert response["Cache-Control"] == "no-store"
    token = AgentToken.objects.get(deployment=deployment)
    start = html.index('id="new-token-value" value="') + len('id="new-token-value" value="')
    value = html[start : html.index('"', start)]
    assert value.startswith("ragt_")
    assert (
        f"kubectl -n remote-agents create secret generic agent-token --from-literal=token={value}"
        in html
    )
    # The file itself never carries it, and the page's form now refers to an existing token.
    assert html.count(value) == 2
    assert token.name == "edge-2"

    again = admin_client.post(url, post)
    assert value not in again.content.decode()
    assert AgentToken.objects.count() == 1

    follow_up = admin_client.post(url, {**post, "token_source": "existing", "token_name": ""})
    data = _download(follow_up)
    assert value not in follow_up.content.decode()
    assert data["agentTokenSecretName"] == "agent-token"
    assert value not in _everything_persisted(redis_client)


def test_after_creating_a_token_the_form_switches_to_existing(admin_client, url, answers):
    response = admin_client.post(url, answers(action="generate", token_name="edge-3"))
    form = response.context["form"]
    assert form.data["token_source"] == "existing"
    assert form.data["token_name"] == ""


def test_a_new_token_for_a_file_is_shown_once_with_where_to_put_it(
    admin_client, url, answers, deployment
):
    post = answers(
        action="generate", token_name="edge-4", token_secret_name="", token_file="/run/agent/token"
    )
    response = admin_client.post(url, post)
    html = response.content.decode()
    assert AgentToken.objects.filter(name="edge-4").exists()
    assert "readable at <code>/run/agent/token</code>" in html
    assert "create secret generic" not in html.split('id="wizard"')[0]
    assert AuditEvent.objects.get(action="agent.register_values").details["token_method"] == (
        "agentTokenFile"
    )


def test_token_rules_come_back_as_field_errors(admin_client, url, answers, deployment):
    AgentToken.objects.issue(deployment, name="taken", expires_in_days=None)
    response = admin_client.post(url, answers(action="generate", token_name="TAKEN"))
    assert response.status_code == 200
    assert "Content-Disposition" not in response
    assert response.context["form"].errors["token_name"] == [
        "A token with this name already exists."
    ]
    assert 'id="id_token_name-error"' in response.content.decode()
    assert not AuditEvent.objects.filter(action="agent.register_values").exists()


def test_the_token_limit_comes_back_as_a_form_error(admin_client, url, answers, deployment):
    for i in range(MAX_TOKENS_PER_DEPLOYMENT):
        AgentToken.objects.issue(deployment, name=f"t{i}", expires_in_days=None)
    response = admin_client.post(url, answers(action="generate", token_name="one-more"))
    assert response.status_code == 200
    assert "already has 50 agent tokens" in response.content.decode()


def test_it_suggests_a_free_token_name(admin_client, url, deployment):
    AgentToken.objects.issue(deployment, name="remote-agent", expires_in_days=None)
    response = admin_client.get(url)
    assert response.context["form"].data["token_name"] == "remote-agent-2"


def test_it_reports_a_schema_failure_instead_of_handing_out_the_file(
    admin_client, url, answers, monkeypatch
):
    def broken(values_):
        raise values.SchemaError("namespace: broken on purpose")

    monkeypatch.setattr(values, "validate", broken)
    response = admin_client.post(url, answers(action="generate", token_source="existing"))
    assert response.status_code == 200
    assert "Content-Disposition" not in response
    assert "failed its schema check" in response.content.decode()
    assert not AuditEvent.objects.filter(action="agent.register_values").exists()
