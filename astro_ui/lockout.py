"""The page a throttled log-in gets (django-axes calls `lockout_response`).

The log-in form again, status 429, saying why and until when; `Retry-After` says the same to
scripts. The time is the last counted failure plus the cool-off: attempts during a lockout do
not extend it (AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT is off).
"""

from datetime import datetime

from axes.helpers import get_client_username, get_cool_off
from axes.models import AccessAttempt
from django.contrib.auth.forms import AuthenticationForm
from django.db.models import Max, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone


def locked_until(request: HttpRequest, credentials: dict | None) -> datetime:
    """When log-in opens again for this account and this address (the later of the two)."""
    now = timezone.now()
    cool_off = get_cool_off(request)
    if cool_off is None:  # settings always set one; without it axes locks for good
        return now
    username = get_client_username(request, credentials)
    address = getattr(request, "axes_ip_address", None)
    last = (
        AccessAttempt.objects.filter(Q(username=username) | Q(ip_address=address))
        .filter(attempt_time__gte=now - cool_off)
        .aggregate(last=Max("attempt_time"))["last"]
    )
    return (last or now) + cool_off


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None
) -> HttpResponse:
    until = locked_until(request, credentials)
    username = get_client_username(request, credentials) or ""
    ctx = {
        "form": AuthenticationForm(request, initial={"username": username}),
        "locked_until": until,
        "next": request.POST.get("next", request.GET.get("next", "")),
    }
    response = render(request, "registration/login.html", ctx, status=429)
    seconds = max(1, int((until - timezone.now()).total_seconds()) + 1)
    response["Retry-After"] = str(seconds)
    return response
