"""Every rule of the wizard ends as an error on the field it is about."""

import pytest

from onboarding.forms import RegisterAgentForm
from onboarding.values import OBJECT_STORAGE_XCOM
from onboarding.workers import worker_defaults


@pytest.fixture
def check(answers):
    def run(**changes) -> RegisterAgentForm:
        form = RegisterAgentForm(answers(**changes))
        form.is_valid()
        return form

    return run


def errors_of(form, field) -> str:
    return " ".join(form.errors.get(field, []))


def test_it_accepts_the_defaults_plus_an_xcom_path(check):
    form = check()
    assert form.is_valid(), form.errors
    assert form.full_data()["workers"][0]["queues"] == ["default"]


@pytest.mark.parametrize(
    ("namespace", "message"),
    [
        ("Agents", "lowercase"),
        ("remote_agents", "may only use"),
        ("a" * 64, "at most 63 characters; this one has 64"),
        ("-agents", "may only use"),
        ("agents-", "may only use"),
        ("", "required"),
    ],
)
def test_it_rejects_a_namespace_that_is_not_a_dns_label(check, namespace, message):
    assert message in errors_of(check(namespace=namespace), "namespace")


def test_it_accepts_a_63_character_namespace(check):
    assert check(namespace="a" * 63).is_valid()


def test_it_rejects_an_empty_prefix(check):
    assert "Enter a prefix" in errors_of(check(resource_name_prefix="  "), "resource_name_prefix")


def test_it_rejects_a_prefix_that_leaves_no_room_for_the_suffixes(check):
    form = check(**{"resource_name_prefix": "a" * 50, "workers-0-name": "w"})
    error = errors_of(form, "resource_name_prefix")
    assert "at most 49 characters" in error
    assert "-dag-processor" in error
    assert "this one has 50" in error
    assert check(**{"resource_name_prefix": "a" * 49, "workers-0-name": "w"}).is_valid()


def test_it_blames_a_long_worker_name_on_the_worker_name(check):
    form = check(**{"resource_name_prefix": "etl-prod", "workers-0-name": "w" * 60})
    assert not form.is_valid()
    assert "resource_name_prefix" not in form.errors
    error = " ".join(form.workers.errors[0]["name"])
    assert f"“etl-prod-worker-{'w' * 60}” would be 76 characters" in error
    assert "a worker name can have at most 47 characters" in error


def test_it_counts_the_prefix_against_each_worker_name(check):
    two = {"workers-TOTAL_FORMS": "2", **worker_defaults(1, "b" * 30)}
    form = check(**{"resource_name_prefix": "a" * 30, **two})
    assert not form.is_valid()
    assert not form.workers.errors[0]
    assert "at most 25 characters" in " ".join(form.workers.errors[1]["name"])
    assert check(**{"resource_name_prefix": "a" * 25, **two}).is_valid()


def test_it_rejects_a_prefix_with_capitals(check):
    assert "lowercase" in errors_of(check(resource_name_prefix="Agents"), "resource_name_prefix")


def test_it_rejects_two_token_methods(check):
    form = check(token_secret_name="agent-token", token_file="/var/run/token")
    assert "only one way" in errors_of(form, "token_secret_name")
    assert "only one way" in errors_of(form, "token_file")


def test_it_rejects_all_three_token_methods(check):
    form = check(token_secret_name="agent-token", token_file="/var/run/token", token_inline="on")
    assert "only one way" in errors_of(form, "token_inline")


def test_it_rejects_no_token_method(check):
    form = check(token_secret_name="")
    assert "Choose how agents read the token" in errors_of(form, "token_secret_name")


def test_it_rejects_an_inline_existing_token(check):
    form = check(token_source="existing", token_secret_name="", token_inline="on")
    assert "cannot be written inline" in errors_of(form, "token_inline")


def test_it_accepts_an_inline_new_token(check):
    assert check(token_secret_name="", token_inline="on").is_valid()


def test_it_needs_a_name_for_a_new_token(check):
    assert "Name the new token" in errors_of(check(token_name=" "), "token_name")


def test_it_needs_no_name_for_an_existing_token(check):
    assert check(token_source="existing", token_name="").is_valid()


@pytest.mark.parametrize("days", ["0", "-5", "3651", "soon"])
def test_it_rejects_an_expiry_outside_the_range(check, days):
    assert check(token_expires_in_days=days).errors["token_expires_in_days"]


def test_it_takes_an_empty_expiry_as_never(check):
    form = check(token_expires_in_days="")
    assert form.is_valid()
    assert form.cleaned_data["token_expires_in_days"] is None


@pytest.mark.parametrize("path", ["relative/token", "/var/run/", "/var/run/my token"])
def test_it_rejects_a_token_file_that_is_not_an_absolute_file_path(check, path):
    assert "absolute path" in errors_of(check(token_secret_name="", token_file=path), "token_file")


def test_it_rejects_a_secret_name_kubernetes_would_refuse(check):
    assert "secret names" in errors_of(check(token_secret_name="Agent_Token"), "token_secret_name")


def test_it_rejects_both_pull_secret_methods(check):
    form = check(registry="registry.example.com", registry_username="u", registry_password="p")
    assert "not both" in errors_of(form, "pull_secret_name")
    assert "not both" in errors_of(form, "registry")


def test_it_rejects_no_pull_secret_method(check):
    form = check(pull_secret_name="")
    assert "Name an existing image pull secret" in errors_of(form, "pull_secret_name")


def test_it_asks_for_the_missing_registry_credentials(check):
    form = check(pull_secret_name="", registry="registry.example.com")
    assert "Needed" in errors_of(form, "registry_username")
    assert "Needed" in errors_of(form, "registry_password")
    assert not errors_of(form, "registry")


def test_it_accepts_registry_credentials(check):
    form = check(
        pull_secret_name="",
        registry="registry.example.com:5000",
        registry_username="u",
        registry_password="p",
    )
    assert form.is_valid(), form.errors


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"a": 1,}', "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('"text"', "JSON object"),
        ("null", "JSON object"),
    ],
)
def test_it_rejects_kwargs_that_are_not_a_json_object(check, raw, message):
    assert message in errors_of(check(secret_backend_kwargs=raw), "secret_backend_kwargs")


def test_it_reads_kwargs_as_an_object(check):
    form = check(secret_backend_kwargs='{"connections_prefix": "airflow/connections"}')
    assert form.is_valid()
    kwargs = form.full_data()["secret_backend_kwargs"]
    assert kwargs == {"connections_prefix": "airflow/connections"}


@pytest.mark.parametrize(
    "field",
    [
        "workers-0-replicas",
        "triggerer_replicas",
        "workers-0-sync_slots",
        "triggerer_async_slots",
    ],
)
@pytest.mark.parametrize("count", ["0", "-1"])
def test_it_rejects_counts_below_one(check, field, count):
    form = check(**{field: count})
    assert not form.is_valid()
    if field.startswith("workers-"):
        assert "at least 1" in str(form.workers.errors[0])
    else:
        assert "at least 1" in errors_of(form, field)


@pytest.mark.parametrize("path", ["foo", "a..b", "1abc.X", "a.b c", ".a.b", "a.b.", "a-b.C"])
@pytest.mark.parametrize("backend", ["secret_backend", "xcom_backend"])
def test_it_rejects_a_custom_class_that_is_not_a_dotted_path(check, backend, path):
    form = check(**{backend: "custom", f"{backend}_custom": path})
    assert "dotted Python class path" in errors_of(form, f"{backend}_custom")


@pytest.mark.parametrize("backend", ["secret_backend", "xcom_backend"])
def test_it_accepts_a_custom_class(check, backend):
    form = check(**{backend: "custom", f"{backend}_custom": "acme_ops.backends.Vault2"})
    assert form.is_valid(), form.errors
    assert form.cleaned_data[f"{backend}_class"] == "acme_ops.backends.Vault2"


@pytest.mark.parametrize("backend", ["secret_backend", "xcom_backend"])
def test_it_wants_a_class_path_for_a_custom_backend(check, backend):
    form = check(**{backend: "custom", f"{backend}_custom": ""})
    assert "Enter the class path" in errors_of(form, f"{backend}_custom")


def test_it_rejects_a_custom_class_when_a_builtin_is_chosen(check):
    form = check(secret_backend_custom="acme.backends.Mine")
    assert "Custom class" in errors_of(form, "secret_backend_custom")


def test_it_rejects_an_unknown_backend_choice(check):
    assert check(secret_backend="os.system").errors["secret_backend"]


def test_it_needs_a_path_for_object_storage_xcom(check):
    form = check(xcom_path="")
    assert "needs a path" in errors_of(form, "xcom_path")


def test_it_needs_no_path_for_a_custom_xcom_backend(check):
    form = check(xcom_backend="custom", xcom_backend_custom="acme.xcom.Backend", xcom_path="")
    assert form.is_valid()
    assert form.cleaned_data["xcom_backend"] != OBJECT_STORAGE_XCOM


@pytest.mark.parametrize("path", ["bucket/xcom", "s3:/bucket", "s3://bucket with space"])
def test_it_rejects_an_xcom_path_that_is_not_a_storage_url(check, path):
    assert "storage URL" in errors_of(check(xcom_path=path), "xcom_path")


@pytest.mark.parametrize(
    "proxy",
    ["ftp://proxy:21", "proxy.internal:3128", "socks5://proxy:1080", "http://", "http://a b"],
)
@pytest.mark.parametrize("field", ["http_proxy", "https_proxy"])
def test_it_rejects_a_proxy_that_is_not_an_http_url(check, field, proxy):
    assert "http:// or https:// URL" in errors_of(check(**{field: proxy}), field)


def test_it_rejects_a_proxy_port_out_of_range(check):
    assert "port" in errors_of(check(http_proxy="http://proxy:99999"), "http_proxy")


def test_it_accepts_proxies_and_tidies_no_proxy(check):
    form = check(
        http_proxy="http://proxy.internal:3128",
        https_proxy="https://user:pw@proxy.internal:8443",
        no_proxy="localhost, .cluster.local ,10.0.0.0/8",
    )
    assert form.is_valid(), form.errors
    assert form.cleaned_data["no_proxy"] == "localhost,.cluster.local,10.0.0.0/8"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("team", "write key=value"),
        ("bad key=x", "not a valid Kubernetes key"),
        ("Example.com/team=x", "not a valid Kubernetes key"),
        ("team=data\nteam=ml", "given twice"),
        ("team=" + "x" * 64, "label values"),
        ("team=a b", "label values"),
    ],
)
def test_it_rejects_bad_labels(check, text, message):
    assert message in errors_of(check(labels=text), "labels")


def test_it_reads_labels_and_annotations(check):
    form = check(
        labels="team=data\n# a comment\n\nexample.com/tier=gold",
        annotations="note=free text: with colons # and hashes",
    )
    assert form.is_valid(), form.errors
    assert form.cleaned_data["labels"] == {"team": "data", "example.com/tier": "gold"}
    assert form.cleaned_data["annotations"] == {"note": "free text: with colons # and hashes"}


def test_it_rejects_a_worker_name_that_is_not_a_dns_label(check):
    form = check(**{"workers-0-name": "Default_Workers"})
    assert not form.is_valid()
    assert "lowercase" in str(form.workers.errors[0]["name"])


def test_it_rejects_two_workers_with_one_name(check):
    extra = {
        f"workers-1-{k.split('-', 2)[2]}": v
        for k, v in check().data.items()
        if k.startswith("workers-0-")
    }
    form = check(**{"workers-TOTAL_FORMS": "2", **extra})
    assert not form.is_valid()
    assert "different name" in str(form.workers.non_form_errors())


def test_it_keeps_at_least_one_worker(check):
    form = check(**{"workers-0-DELETE": "on"})
    assert not form.is_valid()
    assert "at least one worker" in str(form.workers.non_form_errors())


@pytest.mark.parametrize(
    ("queues", "message"), [(" , ", "at least one queue"), ("a, a", "once"), ("a b", "Queue names")]
)
def test_it_rejects_bad_queues(check, queues, message):
    form = check(**{"workers-0-queues": queues})
    assert not form.is_valid()
    assert message in str(form.workers.errors[0]["queues"])


@pytest.mark.parametrize("amount", ["lots", "1.5 Gi", "-1", "2gb"])
def test_it_rejects_a_resource_that_is_not_a_quantity(check, amount):
    form = check(**{"workers-0-limits_memory": amount})
    assert not form.is_valid()
    assert "Kubernetes quantity" in str(form.workers.errors[0]["limits_memory"])


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("image_tag", "3.1 latest"),
        ("image_repository", "Registry/Agent"),
        ("sentinel_image", "registry.local/sentinel"),
        ("sentinel_image", "registry.local/sentinel:1 2"),
    ],
)
def test_it_rejects_a_bad_image(check, field, value):
    assert check(**{field: value}).errors[field]


def test_it_rejects_registry_with_spaces(check):
    form = check(
        pull_secret_name="", registry="my registry", registry_username="u", registry_password="p"
    )
    assert "registry host" in errors_of(form, "registry")


def test_it_wants_the_sentinel_image_when_sentinel_is_on(check):
    form = check(sentinel_enabled="on", sentinel_image="")
    assert "needs its image" in errors_of(form, "sentinel_image")


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"dag_source": "git", "git_conn_id": ""}, "git_conn_id", "Name the Airflow connection"),
        ({"dag_source": "object-storage"}, "storage_url", "Name the bucket"),
        (
            {"dag_source": "object-storage", "storage_url": "azure://c/dags"},
            "storage_url",
            "s3:// or gs://",
        ),
        (
            {"dag_source": "object-storage", "storage_url": "s3:///dags"},
            "storage_url",
            "then the bucket",
        ),
        ({"dag_source": "git", "git_tracking_ref": "my branch"}, "git_tracking_ref", "no spaces"),
        ({"dag_source": "local", "local_path": "dags/"}, "local_path", "absolute path"),
        ({"dag_bundle_name": "my dags"}, "dag_bundle_name", "letters, digits"),
        ({"dag_source": "svn"}, "dag_source", "valid choice"),
    ],
)
def test_it_puts_dag_source_errors_at_their_fields(check, changes, field, message):
    assert message in errors_of(check(**changes), field)


def test_it_refuses_to_let_the_chart_create_a_namespace_that_must_hold_both_secrets(check):
    form = check(create_namespace="on")
    assert "cannot create it" in errors_of(form, "create_namespace")
    assert check(create_namespace="on", token_secret_name="", token_inline="on").is_valid()
