import pytest

from audit.models import AuditEvent
from tests.api.contract import API_TOKEN, TOKEN_PAGE, TOKEN_SORTS, schema_problems, vendor_problems
from tokens import secret
from tokens.models import MAX_TOKENS_PER_DEPLOYMENT, AgentToken

pytestmark = pytest.mark.django_db


def _create(client, url, **body):
    return client.post(url("/agent-tokens"), body, content_type="application/json")


def _assert_error(response, status, *fields):
    assert response.status_code == status, response.content
    data = response.json()
    assert set(data) == {"message", "requestId", "statusCode", "fieldErrors"}
    assert data["statusCode"] == status
    assert data["requestId"] == response["X-Request-ID"]
    assert [e["field"] for e in data["fieldErrors"]] == list(fields)
    return data


def test_it_creates_a_token_and_shows_its_value_once(admin_client, url, deployment, admin):
    response = _create(
        admin_client, url, name="us-east", description="ci", tokenExpiryPeriodInDays=30
    )
    # 200, as the vendor answers: its generated clients drop the body (and the secret) of a 201.
    assert response.status_code == 200
    data = response.json()
    assert secret.is_well_formed(data["token"])
    assert (data["name"], data["description"]) == ("us-east", "ci")
    assert (data["kind"], data["scope"], data["expiryPeriodInDays"]) == (
        "STANDARD",
        "DEPLOYMENT",
        30,
    )
    assert data["roles"] == [
        {"entityId": str(deployment.pk), "entityType": "DEPLOYMENT", "role": "AGENT"}
    ]
    assert data["createdBy"] == {"id": str(admin.pk), "subjectType": "USER", "username": "alice"}
    assert data["startAt"] == data["createdAt"] == data["updatedAt"]
    assert response["Cache-Control"] == "no-store"
    token = AgentToken.objects.get(pk=data["id"])
    assert token.digest == secret.digest(data["token"])
    assert data["shortToken"] == token.hint
    assert AuditEvent.objects.filter(action="token.create", target_id=str(token.pk)).exists()
    assert vendor_problems(data, API_TOKEN) == []
    assert schema_problems(response, "createAgentToken") == []
    shown = admin_client.get(url(f"/agent-tokens/{token.pk}"))
    assert "token" not in shown.json()
    assert vendor_problems(shown.json(), API_TOKEN) == []
    assert schema_problems(shown, "getAgentToken") == []


def test_it_stores_the_expiry_period_asked_for(admin_client, url):
    data = _create(admin_client, url, name="week", tokenExpiryPeriodInDays=7).json()
    assert AgentToken.objects.get(pk=data["id"]).expiry_period_days == 7
    shown = admin_client.get(url(f"/agent-tokens/{data['id']}")).json()
    assert shown["expiryPeriodInDays"] == 7
    assert shown["endAt"] > shown["startAt"]


def test_a_token_that_never_expires_leaves_the_expiry_fields_out(admin_client, url):
    response = _create(admin_client, url, name="forever")
    assert response.status_code == 200
    data = response.json()
    # Left out, not null: clients generated from the vendor's schema cannot parse a null date.
    for field in ("endAt", "expiryPeriodInDays", "lastUsedAt", "lastUsedIp"):
        assert field not in data
    assert data["isExpired"] is False
    assert vendor_problems(data, API_TOKEN) == []


def test_a_list_holds_to_both_schemas(viewer_client, url, deployment, admin):
    AgentToken.objects.issue(deployment, name="a", expires_in_days=3, by=admin)
    AgentToken.objects.issue(deployment, name="b", expires_in_days=None)  # no creator
    response = viewer_client.get(url("/agent-tokens"))
    data = response.json()
    assert vendor_problems(data, TOKEN_PAGE) == []
    assert schema_problems(response, "listAgentTokens") == []
    assert "createdBy" not in next(t for t in data["tokens"] if t["name"] == "b")


@pytest.mark.parametrize("days", [0, 3651, "soon", "30", 30.5, True])
def test_it_rejects_an_expiry_outside_1_to_3650_days(admin_client, url, days):
    response = _create(admin_client, url, name="x", tokenExpiryPeriodInDays=days)
    _assert_error(response, 400, "tokenExpiryPeriodInDays")
    assert not AgentToken.objects.exists()


def test_it_rejects_a_duplicate_name_as_a_field_error(admin_client, url):
    assert _create(admin_client, url, name="fleet").status_code == 200
    data = _assert_error(_create(admin_client, url, name="FLEET"), 400, "name")
    assert "already exists" in data["fieldErrors"][0]["message"]


def test_it_rejects_a_missing_name(admin_client, url):
    data = _assert_error(_create(admin_client, url, description="no name"), 400, "name")
    assert data["fieldErrors"][0]["code"] == "required"


def test_it_enforces_the_token_limit_with_a_message(admin_client, url, deployment):
    for n in range(MAX_TOKENS_PER_DEPLOYMENT):
        AgentToken.objects.issue(deployment, name=f"t{n}", expires_in_days=None)
    data = _assert_error(_create(admin_client, url, name="one-more"), 400, "")
    assert f"already has {MAX_TOKENS_PER_DEPLOYMENT} agent tokens" in data["message"]


def test_it_rejects_a_body_that_is_not_json(admin_client, url):
    response = admin_client.post(url("/agent-tokens"), "{", content_type="application/json")
    _assert_error(response, 400)


@pytest.mark.parametrize("who", ["viewer_client", "operator_client"])
def test_it_refuses_creating_and_deleting_below_admin(request, who, url, deployment):
    client = request.getfixturevalue(who)
    _assert_error(_create(client, url, name="nope"), 403)
    token, _ = AgentToken.objects.issue(deployment, name="keep", expires_in_days=None)
    _assert_error(client.delete(url(f"/agent-tokens/{token.pk}")), 403)
    assert AgentToken.objects.live().count() == 1


@pytest.mark.parametrize("who", ["viewer_client", "operator_client", "admin_client"])
def test_every_role_can_list_and_read(request, who, url, deployment):
    token, _ = AgentToken.objects.issue(deployment, name="seen", expires_in_days=7)
    client = request.getfixturevalue(who)
    listed = client.get(url("/agent-tokens"))
    assert listed.status_code == 200
    assert [t["id"] for t in listed.json()["tokens"]] == [str(token.pk)]
    assert client.get(url(f"/agent-tokens/{token.pk}")).status_code == 200


def test_a_stranger_gets_404_everywhere(stranger_client, url, deployment):
    token, _ = AgentToken.objects.issue(deployment, name="hidden", expires_in_days=None)
    _assert_error(stranger_client.get(url("/agent-tokens")), 404)
    _assert_error(stranger_client.get(url(f"/agent-tokens/{token.pk}")), 404)
    _assert_error(_create(stranger_client, url, name="x"), 404)
    _assert_error(stranger_client.delete(url(f"/agent-tokens/{token.pk}")), 404)


def test_anonymous_gets_401_json(anonymous, url):
    response = anonymous.get(url("/agent-tokens"))
    _assert_error(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_it_deletes_through_revoke(admin_client, url, deployment, admin):
    token, _ = AgentToken.objects.issue(deployment, name="old", expires_in_days=None)
    response = admin_client.delete(url(f"/agent-tokens/{token.pk}"))
    assert response.status_code == 204
    assert response.content == b""
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert token.revoked_by == admin
    assert AuditEvent.objects.filter(action="token.delete").count() == 1
    # Deleted tokens are gone from the API.
    _assert_error(admin_client.get(url(f"/agent-tokens/{token.pk}")), 404)
    _assert_error(admin_client.delete(url(f"/agent-tokens/{token.pk}")), 404)
    assert admin_client.get(url("/agent-tokens")).json()["totalCount"] == 0


def test_a_token_of_another_deployment_is_404(admin_client, url, other_deployment):
    token, _ = AgentToken.objects.issue(other_deployment, name="theirs", expires_in_days=None)
    _assert_error(admin_client.get(url(f"/agent-tokens/{token.pk}")), 404)


# --- pagination and sorting ------------------------------------------------------------------


@pytest.fixture
def five_tokens(deployment):
    for name in ["c", "a", "e", "b", "d"]:
        AgentToken.objects.issue(deployment, name=name, expires_in_days=None)


def _names(client, url, query):
    response = client.get(url("/agent-tokens") + query)
    assert response.status_code == 200, response.content
    return response.json()


def test_it_pages_with_offset_and_limit(viewer_client, url, five_tokens):
    data = _names(viewer_client, url, "?offset=1&limit=2&sorts=name:asc")
    assert (data["offset"], data["limit"], data["totalCount"]) == (1, 2, 5)
    assert [t["name"] for t in data["tokens"]] == ["b", "c"]


def test_it_defaults_to_offset_0_and_limit_20(viewer_client, url, five_tokens):
    data = _names(viewer_client, url, "")
    assert (data["offset"], data["limit"], len(data["tokens"])) == (0, 20, 5)


def test_limit_0_returns_only_the_count(viewer_client, url, five_tokens):
    data = _names(viewer_client, url, "?limit=0")
    assert (data["totalCount"], data["tokens"]) == (5, [])


def test_an_offset_past_the_end_is_an_empty_page(viewer_client, url, five_tokens):
    data = _names(viewer_client, url, "?offset=99")
    assert (data["totalCount"], data["tokens"]) == (5, [])


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?limit=1001", "limit"),
        ("?limit=-1", "limit"),
        ("?offset=-1", "offset"),
        ("?offset=99999999999999999999999", "offset"),
        ("?limit=ten", "limit"),
    ],
)
def test_it_rejects_bad_paging(viewer_client, url, query, field):
    _assert_error(viewer_client.get(url("/agent-tokens") + query), 400, field)


def test_limit_1000_is_allowed(viewer_client, url):
    assert viewer_client.get(url("/agent-tokens?limit=1000")).status_code == 200


def test_it_sorts_by_several_keys(viewer_client, url, five_tokens):
    data = _names(viewer_client, url, "?sorts=name:desc")
    assert [t["name"] for t in data["tokens"]] == ["e", "d", "c", "b", "a"]
    data = _names(viewer_client, url, "?sorts=createdAt:asc&sorts=name:asc")
    assert [t["name"] for t in data["tokens"]] == ["c", "a", "e", "b", "d"]


@pytest.mark.parametrize("sort", TOKEN_SORTS)
def test_it_takes_every_sort_of_the_vendor(viewer_client, url, deployment, sort, admin, operator):
    # Made in this order, each by someone else, so every key orders them differently from the
    # default (newest first).
    for name, description, by in [("b", "2", operator), ("a", "3", admin), ("c", "1", operator)]:
        AgentToken.objects.issue(
            deployment, name=name, description=description, expires_in_days=None, by=by
        )
    tokens = _names(viewer_client, url, f"?sorts={sort}")["tokens"]
    key, direction = sort.split(":")
    value = {
        "name": lambda t: t["name"],
        "description": lambda t: t["description"],
        "createdById": lambda t: (int(t["createdBy"]["id"]), t["createdAt"]),
        "updatedById": lambda t: (int(t["updatedBy"]["id"]), t["createdAt"]),
    }.get(key, lambda t: t["createdAt"])
    expected = sorted(tokens, key=value, reverse=direction == "desc")
    if key.endswith("ById"):  # ties keep the default order, newest first, in either direction
        expected = sorted(
            sorted(tokens, key=lambda t: t["createdAt"], reverse=True),
            key=lambda t: int(t["createdBy"]["id"]),
            reverse=direction == "desc",
        )
    assert [t["name"] for t in tokens] == [t["name"] for t in expected]


@pytest.mark.parametrize(
    "query", ["digest:asc", "name", "name:up", ":asc", "name:asc,createdAt:desc"]
)
def test_it_rejects_a_sort_the_schema_does_not_list(viewer_client, url, query):
    response = viewer_client.get(url(f"/agent-tokens?sorts=name:asc&sorts={query}"))
    data = _assert_error(response, 400, "sorts.1")
    assert data["fieldErrors"][0]["code"] == "invalid_choice"
    assert "tokenStartAt" in data["fieldErrors"][0]["message"]


@pytest.mark.parametrize("param", ["offset", "limit", "sorts"])
def test_an_empty_parameter_is_refused_not_ignored(viewer_client, url, param):
    data = _assert_error(viewer_client.get(url(f"/agent-tokens?{param}=")), 400, param)
    assert data["fieldErrors"][0]["code"] == "blank"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": 5}, "name"),
        ({"name": ["x"]}, "name"),
        ({"name": "x", "description": 12}, "description"),
        ({"name": "x", "description": None}, "description"),
        ({"name": "nul\u0000"}, "name"),  # PostgreSQL cannot store it; the schema's pattern says so
        ({"name": "lone \ud800 surrogate"}, "name"),
    ],
)
def test_it_takes_only_strings_as_strings(admin_client, url, body, field):
    _assert_error(_create(admin_client, url, **body), 400, field)
    assert not AgentToken.objects.exists()
