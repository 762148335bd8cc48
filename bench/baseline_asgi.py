"""The benchmark's ASGI entry point: the production app, with three baselines in front of it.

Only `make bench` serves this module; the console's own ASGI app (`astro_ui.asgi`) never routes
to these. One server process serves all of them, so the heartbeat path and its baselines are
measured under exactly the same server, worker count and settings:

- POST /bench/django-set  (a) a minimal Django view doing one Redis SET, served like every page
                              (the body buffered by astro_ui/front.py, Django in its thread pool)
- POST /bench/wsgi-set    (b) a bare ASGI callable doing one Redis SET (the body read with the
                              same limit and deadline as the agent API's)
- GET  /bench/django-get  (c) a minimal Django view doing one Redis GET (the poll's baseline)
"""

from django.conf import settings

from astro_ui import asgi, front
from bench.baseline_wsgi import KEY, _redis, baselines

django_baselines = front.BufferedWSGI(baselines)
_OK = [(b"content-type", b"text/plain"), (b"content-length", b"2")]


async def bare_set(scope, receive, send) -> None:
    body = await front.read_body(receive, scope["headers"], 64 * 1024)
    _redis.set(KEY, body)
    await front.respond(send, 200, _OK, b"ok")


async def application(scope, receive, send) -> None:
    path = scope.get("path", "")
    if path == "/bench/wsgi-set":
        await bare_set(scope, receive, send)
    elif path.startswith("/bench/"):
        await django_baselines(scope, receive, send)
    else:
        await asgi.application(scope, receive, send)


assert settings.configured
