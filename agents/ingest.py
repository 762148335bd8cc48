"""The agent API (`/api/agent/v1/…`): what agents in customers' clusters call. JSON in, JSON out.

A lean route in front of Django's middleware and the REST framework. A steady-state heartbeat
is one Redis round trip: agents/heartbeat.lua checks the allowed ranges' version, the address,
the token, the remote-execution switch and the agent's entry, and writes the heartbeat, all at
once. The database is read only on the slow paths: a cache miss, the first heartbeat of a name,
or Redis refusing writes (then the database decides, and a withdrawn permission is refused).

Served three ways, one code path: natively under ASGI (`asgi`, production: the body is read on
the event loop with a limit and a deadline, the steady state runs inline, the slow paths in a
thread), as a WSGI app (`wsgi`, for WSGI servers) and as a Django view (`view`, for the
development server and the test client).

Every error body is {"error": <code>, "detail": <what went wrong and what to do>} so an operator
reading agent logs can tell a stale token from a wrong deployment id from a blocked network.
"""

import contextlib
import hashlib
import logging
import re
import threading
import uuid
from dataclasses import dataclass

import msgspec
import redis
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from redis.exceptions import NoScriptError

from agents import messages, openapi, run_api, store
from agents.liveness import utc_datetime
from astro_ui import front, keys, redis_client
from astro_ui.net import client_ip_from
from astro_ui.request_id import SAFE as SAFE_REQUEST_ID
from deployments import cache as deployment_cache
from deployments.ipranges import record_blocked
from tokens import cache as token_cache
from tokens import secret
from tokens.auth import REALM, bearer_value

log = logging.getLogger(__name__)

PREFIX = "/api/agent/"
OPENAPI_PATH = "/api/agent/v1/openapi.yaml"
MAX_BODY_BYTES = 64 * 1024
HEARTBEAT_PATH = re.compile(r"^/api/agent/v1/deployments/([^/]*)/heartbeat$")
TEST_RUN_PATH = re.compile(r"^/api/agent/v1/deployments/([^/]*)/test-runs/([^/]*)$")
UUID_TEXT = re.compile(
    r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"
)
# Failed token look-ups allowed per address and deployment, and for how long they count.
GUESS_LIMIT = 20
GUESS_SECONDS = 300
DIRTY_SECONDS = 60

_SCRIPT = (settings.BASE_DIR / "agents" / "heartbeat.lua").read_text()
_encode = msgspec.json.encode
_decode = msgspec.json.decode


@dataclass
class Request:
    method: str
    path: str
    headers: list[tuple[bytes, bytes]]  # names in lower case, as ASGI has them
    body: bytes
    remote_addr: str
    request_id: str = ""

    def header(self, name: bytes) -> bytes:
        return front.header(self.headers, name) or b""


@dataclass
class Reply:
    status: int
    payload: dict
    headers: dict[str, str]
    raw: bytes | None = None  # a document served as is (the OpenAPI file), not JSON
    operation: str = "heartbeat"  # which operation of agents/openapi.yaml answered

    def content(self) -> bytes:
        return self.raw if self.raw is not None else _encode(self.payload)

    def header_list(self, request_id: str) -> list[tuple[str, str]]:
        kind = "application/yaml" if self.raw is not None else "application/json"
        return [
            ("Content-Type", kind),
            ("X-Content-Type-Options", "nosniff"),
            ("Cache-Control", "no-store"),
            ("X-Request-ID", request_id),
            *self.headers.items(),
        ]


class NeedsDatabase(Exception):
    """Raised on the event loop when the answer needs the database: rerun in a thread."""


def error(status: int, code: str, detail: str, **extra) -> Reply:
    headers = {}
    if status == 401:
        headers["WWW-Authenticate"] = f'Bearer realm="{REALM}"'
    if status == 503:
        headers["Retry-After"] = "5"
    return Reply(status, {"error": code, "detail": detail, **extra}, headers)


def request_id(incoming: bytes) -> str:
    text = incoming.decode("latin-1")
    return text if SAFE_REQUEST_ID.fullmatch(text) else uuid.uuid4().hex


# --- routing ----------------------------------------------------------------------------------


def handle(request: Request, *, allow_db: bool = True) -> Reply:
    """The answer to one agent API request; never raises but NeedsDatabase (when not allowed)."""
    match = HEARTBEAT_PATH.match(request.path)
    if request.path == OPENAPI_PATH and request.method in ("GET", "HEAD"):
        return Reply(200, {}, {}, raw=openapi.served())
    report = TEST_RUN_PATH.match(request.path)
    if report is not None:
        reply = _test_run_report(request, report.group(1), report.group(2), allow_db)
        reply.operation = "reportTestRun"
        return reply
    if match is None:
        return _count_unrouted(_not_found(request.path))
    if not UUID_TEXT.match(match.group(1)):
        return _count_unrouted(
            error(
                404,
                "deployment_not_found",
                f"'{match.group(1)[:64]}' is not a deployment id. The agent API URL is "
                "…/api/agent/v1/deployments/<deployment id>/heartbeat, as shown on the "
                "deployment's Overview.",
            )
        )
    refused = _refuse_method_or_size(request)
    if refused is not None:
        return refused
    try:
        beat = Heartbeat(request, str(uuid.UUID(match.group(1))))
        try:
            return beat.run(allow_db)
        except store.Unavailable:
            if not allow_db:
                raise NeedsDatabase from None
            log.warning("heartbeat store unavailable; answering from the database")
            return beat.decide_from_database()
    except NeedsDatabase:
        raise
    except Exception:
        # Never an HTML page or a traceback for an agent: the shape stays, the log has the rest.
        log.exception("agent API request failed")
        return error(500, "internal_error", "The server failed to handle this request.")


def _refuse_method_or_size(request: Request) -> Reply | None:
    """Agent API endpoints take a POST of at most MAX_BODY_BYTES."""
    if request.method != "POST":
        reply = error(405, "method_not_allowed", f'Method "{request.method}" not allowed.')
        reply.headers["Allow"] = "POST"
        return reply
    if len(request.body) > MAX_BODY_BYTES:
        return error(413, "body_too_large", front.too_large(MAX_BODY_BYTES))
    return None


def _not_found(path: str) -> Reply:
    hint = ""
    if path.endswith("/heartbeat/"):
        hint = " Remove the trailing slash."
    return error(
        404,
        "not_found",
        "There is no such agent API endpoint. Agents POST to "
        f"…/api/agent/v1/deployments/<deployment id>/heartbeat.{hint}",
    )


def _count_unrouted(reply: Reply) -> Reply:
    with contextlib.suppress(*store.Unavailable):
        redis_client.client().hincrby(keys.REFUSED, reply.payload["error"], 1)
    return reply


# --- the heartbeat ------------------------------------------------------------------------------

# Per process: the allowed ranges of each deployment with their version. The script answers
# "stale" when Redis holds another version; only then is the list read and parsed again.
_ranges: dict[str, tuple[str, str]] = {}
_SHA = hashlib.sha1(_SCRIPT.encode()).hexdigest()  # noqa: S324 - Redis names scripts by SHA-1
_local = threading.local()


def run_script(keys_: list[str], args: list) -> list:
    """EVALSHA of heartbeat.lua, loading the script when Redis does not know it (NOSCRIPT, after
    a restart or SCRIPT FLUSH).

    On a single Redis the call goes straight down one connection per thread, kept for the
    process's life: the pool's checkout and return per call cost as much as the script itself.
    A cluster client routes it by the deployment's hash tag instead.
    """
    client = redis_client.client()
    if redis_client.is_cluster():
        try:
            return client.evalsha(_SHA, len(keys_), *keys_, *args)
        except NoScriptError:
            client.script_load(_SCRIPT)  # on every node
            return client.evalsha(_SHA, len(keys_), *keys_, *args)
    pool = client.connection_pool
    conn = getattr(_local, "conn", None)
    if conn is None or _local.pool is not pool:
        conn = _local.conn = pool.make_connection()
        _local.pool = pool
    for attempt in (1, 2):
        try:
            return _evalsha(conn, keys_, args)
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            # A connection Redis dropped (a restart): one fresh try, as the pool would do.
            conn.disconnect()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _evalsha(conn, keys_: list[str], args: list) -> list:
    try:
        conn.send_command("EVALSHA", _SHA, len(keys_), *keys_, *args)
        return conn.read_response()
    except NoScriptError:
        conn.send_command("SCRIPT", "LOAD", _SCRIPT)
        conn.read_response()
        conn.send_command("EVALSHA", _SHA, len(keys_), *keys_, *args)
        return conn.read_response()


# Per process: what an Authorization header holds (a refusal, or the token's digest). Checking
# the checksum and hashing the value on every heartbeat of the same agent is wasted work.
_seen_credentials: dict[bytes, tuple[tuple[str, str] | None, str]] = {}


def _credentials(header: bytes) -> tuple[tuple[str, str] | None, str]:
    known = _seen_credentials.get(header)
    if known is None:
        value, problem = bearer_value(header)
        known = (problem, secret.digest(value) if value else "-")
        if len(_seen_credentials) >= 10_000:
            _seen_credentials.clear()  # bounded: a stream of made-up tokens cannot grow it
        _seen_credentials[header] = known
    return known


class Heartbeat:
    def __init__(self, request: Request, dep: str):
        self.request, self.dep = request, dep
        self.ip = client_ip_from(
            request.remote_addr, request.header(b"x-forwarded-for").decode("latin-1")
        )
        self.token_problem, self.digest = _credentials(request.header(b"authorization"))
        self.now = store.now()
        try:
            self.beat: messages.Heartbeat | None = messages.parse(request.body)
            self.body_problem: messages.BodyError | None = None
        except messages.BodyError as problem:
            self.beat, self.body_problem = None, problem

    def record(self) -> bytes:
        """The heartbeat as the flush reads it, without its closing brace: the script adds the
        token id, which only Redis knows at that point."""
        if self.beat is None:
            return b""
        return _encode(self.fields())[:-1]

    def fields(self) -> dict:
        beat = self.beat
        assert beat is not None
        return {
            "at": self.now,
            "component": beat.component,
            "version": beat.version,
            "airflow_version": beat.airflow_version,
            "python_version": beat.python_version,
            "queues": beat.queues,
            "slots_used": beat.slots.used,
            "slots_total": beat.slots.total,
            "running_tasks": beat.running_tasks,
            "hostname": beat.hostname,
            "last_ip": self.ip,
        }

    def run(self, allow_db: bool) -> Reply:
        version, ranges = _ranges.get(self.dep, ("", "[]"))
        record = self.record()
        filled: set[bytes] = set()
        for _ in range(6):
            answer = run_script(
                keys.heartbeat_keys(self.dep, self.digest, self.ip),
                [
                    repr(self.now),
                    version,
                    "1" if deployment_cache.allows(ranges, self.ip) else "0",
                    self.token_problem[0] if self.token_problem else "",
                    self.beat.name if self.beat else "",
                    self.body_problem.code if self.body_problem else "",
                    record,
                    GUESS_LIMIT,
                    GUESS_SECONDS,
                    DIRTY_SECONDS,
                    _encode(self.beat.queues if self.beat else []),
                ],
            )
            kind = answer[0]
            if kind == b"ok":
                return self.accepted(answer[1], answer[2], answer[3], answer[4], allow_db)
            if kind == b"refused":
                return self.refused(answer[1].decode(), answer[2], answer[3], counted=answer[4])
            if kind == b"stale":
                ranges, version = answer[1].decode(), answer[2].decode()
                if len(_ranges) >= 10_000:
                    _ranges.clear()  # bounded: made-up deployment ids cannot grow it
                _ranges[self.dep] = (version, ranges)
                continue
            what = answer[1]
            if not allow_db:
                raise NeedsDatabase
            if what in filled:
                # The cache was filled but still misses: Redis refuses writes.
                return self.decide_from_database()
            filled.add(what)
            if what == b"conf" and self.guessed_too_often():
                return self.refused("too_many_attempts", None, GUESS_SECONDS, counted=0)
            self.fill(what, answer[2])
        return self.decide_from_database()

    def guessed_too_often(self) -> bool:
        """Unknown deployments cost a query each: an address that keeps naming them is turned
        away before the database (counted across deployments, under a global key)."""
        key = keys.global_guess(self.ip)
        return int(store.client().get(key) or 0) >= GUESS_LIMIT

    def count_guess(self) -> None:
        with contextlib.suppress(*store.Unavailable):
            pipe = store.client().pipeline(transaction=False)
            pipe.set(keys.global_guess(self.ip), 0, ex=GUESS_SECONDS, nx=True)
            pipe.incr(keys.global_guess(self.ip))  # keeps the expiry set above
            pipe.execute()

    def fill(self, what: bytes, cached) -> None:
        if what == b"conf":
            if deployment_cache.fill(self.dep) is None:
                self.count_guess()
        elif what == b"token":
            token_cache.fill(self.dep, self.digest, cached or None)
        else:
            from agents.models import Agent

            token = _decode(cached)
            assert self.beat is not None  # the script asks for the agent only for a valid body
            Agent.objects.register(
                self.dep, self.beat.name, fields=self.fields(), token_id=token["id"]
            )

    def accepted(
        self, agent_raw: bytes, token_raw: bytes, announce: int, runs: list, allow_db: bool
    ) -> Reply:
        agent, token = _decode(agent_raw), _decode(token_raw)
        offer = None
        # `runs` is empty unless a waiting test run is aimed at this agent or its queues.
        run_id = runs and run_api.eligible(agent["id"], self.fields(), agent["cordon"], runs)
        if run_id:
            # Taking a run writes to the database: off the event loop. The heartbeat is then
            # sent again from a thread, which writes the same time and body again.
            if not allow_db:
                raise NeedsDatabase
            offer = run_api.claim(self.dep, run_id, agent["id"])
        if announce:
            # Once per flush period and deployment: name it for the flush, and (after Redis lost
            # its data) start the epoch. Global keys, so not in the script.
            try:
                pipe = store.client().pipeline(transaction=False)
                pipe.sadd(keys.DIRTY, self.dep)
                pipe.set(keys.EPOCH, self.now, nx=True)
                pipe.execute()
            except store.Unavailable:
                # The heartbeat is stored; the marker lapses and the next one announces it.
                log.warning("could not announce deployment %s to the flush", self.dep)
        token_cache.record_use(token["id"], self.ip)
        cordoned = agent["cordon"] is not None
        return Reply(
            200,
            {
                "agent_id": agent["id"],
                "status": "cordoned" if cordoned else "healthy",
                "cordoned": cordoned,
                "cordon_reason": agent["cordon"] or "",
                "heartbeat_interval_seconds": settings.HEARTBEAT_INTERVAL_SECONDS,
                "server_time": utc_datetime(self.now).isoformat().replace("+00:00", "Z"),
                **({"test_run": offer} if offer else {}),
            },
            {},
        )

    def refused(self, code: str, token_raw, ttl: int = 0, *, counted: int = 1) -> Reply:
        if not counted:
            _count_unrouted(Reply(0, {"error": code}, {}))
        if code == "ip_not_allowed":
            record_blocked(
                self.dep,
                self.ip,
                token_name=self.cached_token_name(),
                agent_name=self.beat.name if self.beat else None,
            )
            shown = self.ip or "an unknown address"
            return error(
                403,
                code,
                f"Requests from {shown} are refused: the deployment's allowed IP ranges do not "
                "include this address. An Admin can add it under Settings -> Allowed IP ranges.",
                ip=self.ip,
            )
        if code == "too_many_attempts":
            reply = error(
                429,
                code,
                "Too many requests from this address used an unknown agent token. Check the "
                f"agent's token; retry after {max(ttl, 1)} seconds.",
            )
            reply.headers["Retry-After"] = str(max(ttl, 1))
            return reply
        if self.token_problem and code == self.token_problem[0]:
            return error(401, code, self.token_problem[1])
        if code.startswith("token_"):
            entry = _decode(token_raw) if token_raw else {}
            problem = token_cache.refusal(self.dep, entry, self.now)
            assert problem is not None
            return error(403 if code == "token_wrong_deployment" else 401, *problem)
        if code == "remote_execution_disabled":
            return error(
                403,
                code,
                f"Remote execution is switched off for deployment {self.dep}, so it takes no "
                "agents. An Admin can switch it on under the deployment's Settings.",
            )
        body_problem = self.body_problem
        assert body_problem is not None
        extra = {"fields": body_problem.fields} if body_problem.fields is not None else {}
        return error(400, body_problem.code, body_problem.detail, **extra)

    def cached_token_name(self) -> str | None:
        """The name of the token a refused request sent, if Redis already knows it: shown beside
        the blocked address. No database on this path, which any address can reach."""
        if self.token_problem:
            return None
        with contextlib.suppress(*store.Unavailable, ValueError):
            raw = redis_client.client().get(keys.token(self.dep, self.digest))
            text = raw.decode() if isinstance(raw, bytes) else raw
            entry = msgspec.json.decode(text) if text and text.startswith("{") else None
            if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                return entry["name"]
        return None

    def decide_from_database(self) -> Reply:
        """Redis is unreachable or refuses writes: refuse from the database's facts, or 503.

        A permission withdrawn while Redis refused to update its copy is refused here."""
        refusal = self.refusal_from_database()
        if refusal is not None:
            return refusal
        if self.body_problem:
            return self.refused(self.body_problem.code, None)
        return error(
            503, "heartbeat_store_unavailable", "The heartbeat store is unavailable. Retry shortly."
        )

    def refusal_from_database(self) -> Reply | None:
        """How the database's facts refuse this request (address, token, remote-execution
        switch), or None when they let it in."""
        conf = deployment_cache.conf_from_database(self.dep) or deployment_cache.UNKNOWN
        if not deployment_cache.allows(conf.ranges_json, self.ip):
            return self.refused("ip_not_allowed", None)
        if self.token_problem:
            return self.refused(self.token_problem[0], None)
        entry = token_cache.entry_from_database(self.dep, self.digest)
        problem = token_cache.refusal(self.dep, entry, self.now)
        if problem is not None:
            return error(403 if problem[0] == "token_wrong_deployment" else 401, *problem)
        if not conf.enabled:
            return self.refused("remote_execution_disabled", None)
        return None


# --- test run reports -------------------------------------------------------------------------


def _test_run_report(request: Request, dep_text: str, run_id: str, allow_db: bool) -> Reply:
    """A test run's progress or result, from the agent that took it. A few calls per run, so
    it is decided from the database (the same rules as a heartbeat: address, token, switch)."""
    if not UUID_TEXT.match(dep_text) or not UUID_TEXT.match(run_id):
        return error(404, "not_found", "There is no such test run.")
    refused = _refuse_method_or_size(request)
    if refused is not None:
        return refused
    if not allow_db:
        raise NeedsDatabase
    dep = str(uuid.UUID(dep_text))
    caller = Heartbeat(request, dep)  # who is calling, judged as a heartbeat would be
    with contextlib.suppress(*store.Unavailable):
        if caller.guessed_too_often():
            return caller.refused("too_many_attempts", None, GUESS_SECONDS, counted=0)
    refusal = caller.refusal_from_database()
    if refusal is not None:
        if refusal.payload["error"] == "token_unknown":
            caller.count_guess()
        return refusal
    try:
        run = run_api.report(dep, run_id, request.body)
    except run_api.ReportError as problem:
        extra = {"fields": problem.fields} if problem.fields is not None else {}
        return error(problem.status, problem.error, problem.detail, **extra)
    return Reply(200, {"id": str(run.pk), "state": run.state}, {})


# --- the three ways in ----------------------------------------------------------------------


async def asgi(scope, receive, send) -> None:
    headers = scope["headers"]
    rid = request_id(front.header(headers, b"x-request-id") or b"")
    try:
        body = await front.read_body(receive, headers, MAX_BODY_BYTES)
    except front.Disconnected:
        return
    except front.BodyProblem as problem:
        reply = error(problem.status, problem.code, problem.detail)
    else:
        client = scope.get("client") or ("", 0)
        request = Request(scope["method"], scope["path"], headers, body, client[0] or "", rid)
        try:
            reply = handle(request, allow_db=False)
        except NeedsDatabase:
            reply = await sync_to_async(_handle_with_database, thread_sensitive=True)(request)
    await front.respond(
        send,
        reply.status,
        [(k.lower().encode(), v.encode("latin-1")) for k, v in reply.header_list(rid)],
        reply.content(),
    )


def _handle_with_database(request: Request) -> Reply:
    # Outside Django's request cycle: drop connections that broke or outlived CONN_MAX_AGE.
    close_old_connections()
    try:
        return handle(request)
    finally:
        close_old_connections()


def wsgi(environ, start_response):
    rid = request_id(environ.get("HTTP_X_REQUEST_ID", "").encode("latin-1"))
    length = environ.get("CONTENT_LENGTH") or ""
    if length and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
        reply = error(413, "body_too_large", front.too_large(MAX_BODY_BYTES))
    else:
        body = environ["wsgi.input"].read(int(length) if length else MAX_BODY_BYTES + 1)
        reply = handle(_from_environ(environ, body, rid))
    status = f"{reply.status} {_REASONS.get(reply.status, '')}".strip()
    start_response(status, reply.header_list(rid))
    return [reply.content()]


@csrf_exempt
def view(request, **route) -> HttpResponse:
    """The agent API through Django's URLconf (the development server, the test client)."""
    rid = getattr(request, "id", "") or uuid.uuid4().hex
    length = request.META.get("CONTENT_LENGTH") or ""
    if length and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
        reply = error(413, "body_too_large", front.too_large(MAX_BODY_BYTES))
    else:
        reply = handle(_from_environ(request.META, request.body, rid))
    response = HttpResponse(reply.content(), status=reply.status)
    for name, value in reply.header_list(rid):
        response[name] = value
    return response


def _from_environ(environ: dict, body: bytes, rid: str) -> Request:
    headers = [
        (name[5:].lower().replace("_", "-").encode(), str(value).encode("latin-1", "replace"))
        for name, value in environ.items()
        if name.startswith("HTTP_")
    ]
    return Request(
        environ.get("REQUEST_METHOD", "GET"),
        environ.get("PATH_INFO", ""),
        headers,
        body,
        environ.get("REMOTE_ADDR", ""),
        rid,
    )


_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    413: "Payload Too Large",
    429: "Too Many Requests",
    503: "Service Unavailable",
}
