from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.http import HttpRequest as _HttpRequest
from django_htmx.middleware import HtmxDetails


class HttpRequest(_HttpRequest):
    """The request our views receive: django-htmx's details and a user are always attached."""

    htmx: HtmxDetails
    user: AbstractBaseUser | AnonymousUser
