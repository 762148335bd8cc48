"""Choosing a template partial for htmx requests, in one place.

A page and its htmx updates are one template: the full page for a normal request or a boosted
navigation, the named partial (`django-template-partials`) when htmx swaps part of the page.
"""

from typing import Any

from django.http import HttpRequest
from django.template.response import TemplateResponse


def wants_partial(request: HttpRequest) -> bool:
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.boosted  # type: ignore[union-attr]


def render(
    request: HttpRequest,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    partial: str | None = None,
    status: int | None = None,
) -> TemplateResponse:
    """`template`, or its `partial` when htmx asks for part of the page."""
    if partial and wants_partial(request):
        template = f"{template}#{partial}"
    return TemplateResponse(request, template, context, status=status)
