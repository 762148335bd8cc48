"""The production setup (granian, ASGI) against slow and hostile clients, over real sockets."""

import json
import socket
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.agents.conftest import body
from tests.agents.contract import assert_conforms
from tests.production import collect_static, production_server, raw_request
from tokens.models import AgentToken

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def fleet(deployment):
    _, value = AgentToken.objects.issue(deployment, name="fleet", expires_in_days=None)
    return f"/api/agent/v1/deployments/{deployment.pk}/heartbeat", value


@pytest.fixture(scope="module")
def var_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("production")
    collect_static(folder)
    return folder


@pytest.fixture(scope="module")
def server(var_dir, django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), production_server(var_dir) as port:
        yield port


def _post(port: int, path: str, payload: bytes, token: str, extra: bytes = b"") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n".encode()
        + extra
        + f"Content-Length: {len(payload)}\r\n\r\n".encode()
        + payload
    )


def _timed_get(port: int, path: str) -> tuple[int, float]:
    started = time.monotonic()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
        return response.status, time.monotonic() - started


def test_it_answers_everyone_else_while_100_slow_clients_hold_connections(server, fleet):
    path, token = fleet
    beat = _post(server, path, json.dumps(body(name="steady")).encode(), token)
    slow_body = _post(server, path, b'{"na', token).replace(
        b"Content-Length: 4", b"Content-Length: 1000"
    )
    slow_header = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ".encode()
    sockets = []
    for i in range(100):
        sock = socket.create_connection(("127.0.0.1", server), timeout=5)
        sock.sendall(slow_body if i % 2 else slow_header)
        sockets.append(sock)
    try:
        worst = {"healthz": 0.0, "page": 0.0, "heartbeat": 0.0}
        finish = time.monotonic() + 6
        while time.monotonic() < finish:
            for sock in sockets:
                sock.sendall(b"a")  # trickle: slow, not silent
            status, took = _timed_get(server, "/healthz")
            assert status == 200
            worst["healthz"] = max(worst["healthz"], took)
            status, took = _timed_get(server, "/login/")
            assert status == 200
            worst["page"] = max(worst["page"], took)
            started = time.monotonic()
            status, _, answer = raw_request(server, beat)
            assert status == 200, answer
            worst["heartbeat"] = max(worst["heartbeat"], time.monotonic() - started)
            time.sleep(0.3)
        assert max(worst.values()) < 1, worst
        for sock in sockets:  # still held open, not refused: they cost only a socket
            sock.setblocking(False)
            with pytest.raises(BlockingIOError):
                sock.recv(1)
    finally:
        for sock in sockets:
            sock.close()


DEEP = b"[" * 5000 + b"]" * 5000
DEEP_OBJECT = b'{"a":' * 5000 + b"1" + b"}" * 5000


def _chunked(payload: bytes, size: int = 1000) -> bytes:
    out = b""
    for i in range(0, len(payload), size):
        piece = payload[i : i + size]
        out += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    return out + b"0\r\n\r\n"


def _hostile_requests(path: str, token: str) -> dict[str, tuple[bytes, int, str]]:
    good = json.dumps(body(name="chunky")).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        f"Authorization: Bearer {token}\r\n"
    ).encode()
    chunked = head + b"Transfer-Encoding: chunked\r\n\r\n"

    def post(payload, extra=b""):
        return head + extra + f"Content-Length: {len(payload)}\r\n\r\n".encode() + payload

    def other(line: str, payload=b"{}"):
        return post(payload).replace(f"POST {path} HTTP/1.1".encode(), line.encode())

    no_token = post(good).replace(f"Authorization: Bearer {token}\r\n".encode(), b"")
    return {
        "nested arrays": (post(DEEP), 400, "invalid_body"),
        "nested objects": (post(DEEP_OBJECT), 400, "invalid_body"),
        "nested in an unknown field": (
            post(good[:-1] + b', "x": ' + DEEP + b"}"),
            400,
            "invalid_body",
        ),
        "chunked heartbeat": (chunked + _chunked(good), 200, ""),
        "chunked, 200 KB": (chunked + _chunked(b" " * 200_000), 413, "body_too_large"),
        "declared 200 KB": (head + b"Content-Length: 200000\r\n\r\n" + b"{", 413, "body_too_large"),
        "not JSON": (post(b"{not json"), 400, "malformed_json"),
        "binary body": (post(bytes(range(256))), 400, "malformed_json"),
        "non-ASCII token": (
            post(good).replace(token.encode(), b"\xff\xfe" + token.encode()[2:]),
            401,
            "token_malformed",
        ),
        "no token": (no_token, 401, "token_missing"),
        "unknown path": (other("POST /api/agent/v1/nothing HTTP/1.1"), 404, "not_found"),
        "trailing slash": (other(f"POST {path}/ HTTP/1.1"), 404, "not_found"),
        "not a deployment id": (
            other("POST /api/agent/v1/deployments/1%20or%201/heartbeat HTTP/1.1"),
            404,
            "deployment_not_found",
        ),
        "GET": (other(f"GET {path} HTTP/1.1"), 405, "method_not_allowed"),
        "forged X-Forwarded-For": (post(good, b"X-Forwarded-For: \xff, ::1, evil\r\n"), 200, ""),
    }


def test_hostile_input_gets_a_clear_json_error_and_never_a_5xx(server, fleet):
    path, token = fleet
    cases = _hostile_requests(path, token)
    for name, (data, expected, code) in cases.items():
        status, headers, answer = raw_request(server, data)
        assert status == expected, (name, status, answer[:300])
        assert headers["content-type"] == "application/json", name
        payload = json.loads(answer)
        assert_conforms(status, payload)
        if code:
            assert payload["error"] == code, (name, payload)

    # The same, all at once and many times over: still no 5xx.
    requests = [data for data, _, _ in cases.values()] * 8
    with ThreadPoolExecutor(32) as pool:
        statuses = list(pool.map(lambda data: raw_request(server, data)[0], requests))
    assert max(statuses) < 500, sorted(set(statuses))


def test_a_stalled_body_is_cut_off_with_a_408(server, fleet, settings):
    path, token = fleet
    sock = socket.create_connection(("127.0.0.1", server), timeout=15)
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
        "Content-Length: 100\r\n\r\n{".encode()
    )
    started = time.monotonic()
    answer = sock.recv(4096)
    sock.close()
    assert b" 408 " in answer.split(b"\r\n")[0]
    assert b"body_timeout" in answer
    assert 8 < time.monotonic() - started < 14


def test_it_serves_the_agent_api_document(server):
    with urllib.request.urlopen(f"http://127.0.0.1:{server}/api/agent/v1/openapi.yaml") as r:
        assert r.status == 200
        assert b"/deployments/{deployment_id}/heartbeat" in r.read()


def test_a_test_run_is_handed_out_and_reported_through_the_production_server(
    server, fleet, deployment, admin
):
    from agents.runs import State, TestRun

    path, token = fleet

    def post(url: str, payload: dict) -> dict:
        request = urllib.request.Request(
            f"http://127.0.0.1:{server}{url}",
            data=json.dumps(payload).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    assert "test_run" not in post(path, body(name="asgi-worker"))
    run = TestRun.objects.start(deployment, queue="default", by=admin)
    beat = post(path, body(name="asgi-worker"))
    assert_conforms(200, beat)
    assert beat["test_run"]["id"] == str(run.pk)
    check = {"name": "clock", "status": "passed", "detail": "ok", "seconds": 0.1}
    answer = post(
        f"/api/agent/v1/deployments/{deployment.pk}/test-runs/{run.pk}",
        {"name": "asgi-worker", "state": "passed", "checks": [check]},
    )
    assert_conforms(200, answer, "reportTestRun")
    assert answer == {"id": str(run.pk), "state": "passed"}
    run.refresh_from_db()
    assert run.state == State.PASSED and run.checks == [check]
