"""The ASGI front of the console: what `granian --interface asgi` serves (astro_ui/asgi.py).

A slow or stalled client must cost the server nothing but a socket. Granian reads request
headers in Rust, with a deadline (`--http1-header-read-timeout`); this module reads bodies on the
event loop, with a size limit and a deadline of their own. Only a request that arrived in full
reaches Python code that holds a thread: the agent API's lean route (agents/ingest.py), or Django,
which runs as a WSGI app in a small pool of threads per process.
"""

import asyncio
import io
import sys
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings

BODY_SECONDS = 10
PAGE_BODY_BYTES = 10 * 1024 * 1024


class BodyProblem(Exception):
    """The body did not arrive in time (408), is too large (413) or was malformed (400)."""

    def __init__(self, status: int, code: str, detail: str):
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


class Disconnected(Exception):
    pass


def header(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    for key, value in headers:
        if key == name:
            return value
    return None


async def read_body(receive, headers, limit: int, seconds: float = BODY_SECONDS) -> bytes:
    """The whole request body, however it is framed (Content-Length or chunked), or BodyProblem.

    A declared length over the limit is refused before anything is read; a chunked body is cut
    off as soon as it passes the limit; and the whole body must arrive within `seconds`.
    """
    declared = header(headers, b"content-length")
    if declared is not None:
        if not declared.isdigit():
            raise BodyProblem(400, "bad_request", "Content-Length is not a number.")
        if int(declared) > limit:
            raise BodyProblem(413, "body_too_large", too_large(limit))
    chunks, size = [], 0
    try:
        # One deadline for the whole body (a timer, not a task per read: under a burst of
        # thousands of requests per second that difference shows).
        async with asyncio.timeout(seconds):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise Disconnected
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise BodyProblem(413, "body_too_large", too_large(limit))
                chunks.append(chunk)
                if not message.get("more_body", False):
                    return b"".join(chunks)
    except TimeoutError:
        raise BodyProblem(408, "body_timeout", _too_slow(seconds)) from None


def too_large(limit: int) -> str:
    return f"The request body is larger than {limit // 1024} KiB."


def _too_slow(seconds: float) -> str:
    return f"The request body did not arrive within {seconds:g} seconds."


async def respond(send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# --- Django behind the buffer -----------------------------------------------------------------


def environ(scope, body: bytes) -> dict:
    """The WSGI environ of a fully buffered ASGI request."""
    server = scope.get("server") or ("localhost", 80)
    client = scope.get("client") or ("", 0)
    env = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": scope.get("root_path", ""),
        # WSGI carries the path as latin-1 text of the UTF-8 bytes; Django decodes it back.
        "PATH_INFO": scope["path"].encode().decode("latin-1"),
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1] or 80),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "REMOTE_ADDR": client[0] or "",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1").upper().replace("-", "_")
        if name in ("CONTENT_LENGTH", "TRANSFER_ENCODING"):
            continue  # the body is buffered: its length is what it is now
        key = name if name == "CONTENT_TYPE" else f"HTTP_{name}"
        value = raw_value.decode("latin-1")
        env[key] = f"{env[key]},{value}" if key in env else value
    return env


def call_wsgi(app, env: dict) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    started: dict = {}

    def start_response(status, headers, exc_info=None):
        started["status"] = int(status.split(" ", 1)[0])
        started["headers"] = [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers
        ]

    result = app(env, start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()  # Django's request_finished: returns the thread's database connection
    return started["status"], started["headers"], body


class BufferedWSGI:
    """An ASGI app that buffers the body (limit, deadline), then runs a WSGI app in a thread."""

    def __init__(self, app, threads: int | None = None):
        self.app = app
        self.pool = ThreadPoolExecutor(
            max_workers=threads or settings.WEB_THREADS, thread_name_prefix="django"
        )

    async def __call__(self, scope, receive, send) -> None:
        try:
            body = await read_body(receive, scope["headers"], PAGE_BODY_BYTES)
        except Disconnected:
            return
        except BodyProblem as problem:
            text = problem.detail.encode()
            await respond(send, problem.status, [(b"content-type", b"text/plain")], text)
            return
        loop = asyncio.get_running_loop()
        status, headers, content = await loop.run_in_executor(
            self.pool, call_wsgi, self.app, environ(scope, body)
        )
        await respond(send, status, headers, content)


async def lifespan(receive, send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
