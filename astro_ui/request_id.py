"""A request id on every request: `request.id`, the X-Request-ID response header, and log lines.

An incoming X-Request-ID (set by a load balancer or a client) is kept when it is a short, safe
token, so one id follows a request across systems; anything else is replaced, so a client cannot
write arbitrary text into our logs.
"""

import contextvars
import logging
import re
import uuid

HEADER = "X-Request-ID"
SAFE = re.compile(r"[A-Za-z0-9._-]{8,64}")

_current: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get(HEADER, "")
        request.id = incoming if SAFE.fullmatch(incoming) else uuid.uuid4().hex
        # Not reset on the way out: Django logs a failed request's line after the middleware
        # chain returns, and that line must carry the id too. The next request overwrites it.
        _current.set(request.id)
        response = self.get_response(request)
        response[HEADER] = request.id
        return response


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record ("-" outside a request) for the log format."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _current.get()
        return True
