from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from alerts.forms import ChannelForm
from alerts.models import MAX_CHANNELS_PER_DEPLOYMENT, Channel, DeliveryStatus, Kind
from astro_ui import htmx
from astro_ui.net import client_ip
from astro_ui.types import HttpRequest
from deployments.access import Access, get_access
from deployments.models import Role

LOG_SIZE = 50


def _channel_for(request: HttpRequest, pk, channel_id, role: Role = Role.VIEWER):
    access = get_access(request, pk, role=role)
    channel = get_object_or_404(Channel, pk=channel_id, deployment=access.deployment)
    channel.deployment = access.deployment
    return access, channel


def _base(access: Access, **extra) -> dict:
    return {
        "deployment": access.deployment,
        "access": access,
        "tab": "remote-agents",
        "view": "alerts",
        **extra,
    }


@login_required
@require_GET
def alerts(request: HttpRequest, pk) -> HttpResponse:
    access = get_access(request, pk)
    channels = list(Channel.objects.filter(deployment=access.deployment))
    for channel in channels:
        channel.last_delivery = channel.deliveries.first()  # type: ignore[attr-defined]
    ctx = _base(
        access,
        channels=channels,
        limit=MAX_CHANNELS_PER_DEPLOYMENT,
        at_limit=len(channels) >= MAX_CHANNELS_PER_DEPLOYMENT,
    )
    return htmx.render(request, "alerts/alerts.html", ctx, partial="remote-agents")


@login_required
@require_http_methods(["GET", "POST"])
@never_cache
def channel_create(request: HttpRequest, pk) -> HttpResponse:
    access = get_access(request, pk, role=Role.ADMIN)
    form = ChannelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            channel, secret = Channel.objects.create_channel(
                access.deployment,
                kind=form.cleaned_data["kind"],
                by=request.user,
                ip=client_ip(request) or None,
                **form.values(),
            )
        except ValidationError as error:
            form.add_model_errors(error)
        else:
            if secret is None:
                return redirect("alert-channel", pk=access.deployment.pk, channel_id=channel.pk)
            # The only response that ever shows the signing secret.
            return _channel_page(request, access, channel, secret=secret)
    ctx = _base(access, form=form, kinds=Kind)
    return TemplateResponse(request, "alerts/channel_form.html", ctx)


@login_required
@require_http_methods(["GET", "POST"])
def channel_edit(request: HttpRequest, pk, channel_id) -> HttpResponse:
    access, channel = _channel_for(request, pk, channel_id, Role.ADMIN)
    form = ChannelForm(request.POST or None, channel=channel)
    if request.method == "POST" and form.is_valid():
        try:
            channel.update(by=request.user, ip=client_ip(request) or None, **form.values())
        except ValidationError as error:
            form.add_model_errors(error)
        else:
            return redirect("alert-channel", pk=pk, channel_id=channel.pk)
    ctx = _base(access, form=form, channel=channel, kinds=Kind)
    return TemplateResponse(request, "alerts/channel_form.html", ctx)


def _channel_page(request: HttpRequest, access: Access, channel, **extra) -> HttpResponse:
    deliveries = list(channel.deliveries.all()[:LOG_SIZE])
    busy = any(d.status in (DeliveryStatus.PENDING, DeliveryStatus.RETRYING) for d in deliveries)
    ctx = _base(access, channel=channel, deliveries=deliveries, busy=busy, **extra)
    return htmx.render(request, "alerts/channel.html", ctx, partial="delivery-log")


@login_required
@require_GET
def channel(request: HttpRequest, pk, channel_id) -> HttpResponse:
    access, channel = _channel_for(request, pk, channel_id)
    return _channel_page(request, access, channel)


@login_required
@require_POST
def channel_test(request: HttpRequest, pk, channel_id) -> HttpResponse:
    access, channel = _channel_for(request, pk, channel_id, Role.ADMIN)
    channel.send_test(by=request.user)
    if request.htmx:
        return _channel_page(request, access, channel)
    return redirect("alert-channel", pk=pk, channel_id=channel.pk)


@login_required
@require_POST
def channel_enable(request: HttpRequest, pk, channel_id) -> HttpResponse:
    _, channel = _channel_for(request, pk, channel_id, Role.ADMIN)
    channel.enable(by=request.user, ip=client_ip(request) or None)
    return redirect("alert-channel", pk=pk, channel_id=channel.pk)


@login_required
@require_http_methods(["GET", "POST"])
def channel_delete(request: HttpRequest, pk, channel_id) -> HttpResponse:
    """GET is the confirmation (for browsers without JavaScript); POST deletes."""
    access, channel = _channel_for(request, pk, channel_id, Role.ADMIN)
    if request.method == "GET":
        return _channel_page(request, access, channel, confirm_delete=True)
    channel.remove(by=request.user, ip=client_ip(request) or None)
    return redirect("alerts", pk=pk)
