"""The benchmark's WSGI entry point: the real app, with three baselines in front of it.

Only `make bench` serves this module; the console's own WSGI app (`astro_ui.wsgi`) never routes
to these views. One server process serves all of them, so the heartbeat path and its baselines
are measured under exactly the same server, worker count and settings:

- POST /bench/django-set  (a) a minimal Django view doing one Redis SET
- POST /bench/wsgi-set    (b) a bare WSGI callable doing one Redis SET
- GET  /bench/django-get  (c) a minimal Django view doing one Redis GET (the poll's baseline)

The Django baselines run through the same middleware as the real app, with a URLconf of their own.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "astro_ui.settings")

import redis
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler, WSGIRequest
from django.core.wsgi import get_wsgi_application
from django.http import HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

app = get_wsgi_application()

KEY = "bench:baseline"
_redis = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=1)


@csrf_exempt
def django_set(request) -> HttpResponse:
    _redis.set(KEY, request.body)
    return HttpResponse(b"ok", content_type="text/plain")


def django_get(request) -> HttpResponse:
    _redis.get(KEY)
    return HttpResponse(status=204)


urlpatterns = [
    path("bench/django-set", django_set),
    path("bench/django-get", django_get),
]


class _BaselineRequest(WSGIRequest):
    urlconf = __name__  # Django resolves request.urlconf instead of ROOT_URLCONF


class _BaselineHandler(WSGIHandler):
    request_class = _BaselineRequest


baselines = _BaselineHandler()


def wsgi_set(environ, start_response):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    _redis.set(KEY, environ["wsgi.input"].read(length) if length else b"")
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


def application(environ, start_response):
    route = environ.get("PATH_INFO", "")
    if route == "/bench/wsgi-set":
        return wsgi_set(environ, start_response)
    if route.startswith("/bench/"):
        return baselines(environ, start_response)
    return app(environ, start_response)
