from django.contrib.auth.models import User
from django.http import HttpRequest as _HttpRequest
from django_htmx.middleware import HtmxDetails


class HttpRequest(_HttpRequest):
    """The request our views receive: django-htmx's details are always attached (the user is
    typed by django-stubs from AUTH_USER_MODEL)."""

    htmx: HtmxDetails


class AuthenticatedHttpRequest(HttpRequest):
    """The request of a view behind @login_required: its user is a real one."""

    user: User
