"""One error shape for the whole management API:
`{message, requestId, statusCode, fieldErrors: [{field, code, message}]}`.

Field paths are dotted (`remoteExecution.allowedIpAddressRanges.2`); an error about the body as
a whole has no field errors, only the message.
"""

import logging

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

log = logging.getLogger("api")


def field_errors(detail, path: str = "") -> list[dict]:
    """Flatten DRF's nested error details (with codes) into a list of field errors."""
    if isinstance(detail, dict):
        out = []
        for key, value in detail.items():
            name = "" if key == "non_field_errors" else str(key)
            out.extend(field_errors(value, f"{path}.{name}" if path and name else path or name))
        return out
    if isinstance(detail, list):
        if all(isinstance(item, exceptions.ErrorDetail) for item in detail):
            return [_one(path, item) for item in detail]
        out = []
        for index, item in enumerate(detail):
            out.extend(field_errors(item, f"{path}.{index}" if path else str(index)))
        return out
    return [_one(path, detail)]


def _one(path: str, detail) -> dict:
    code = getattr(detail, "code", None) or "invalid"
    return {"field": path, "code": code, "message": str(detail)}


def from_django(error: DjangoValidationError, fields: dict | None = None):
    """A model's ValidationError as the API's, keeping its codes; `fields` renames the model's
    field names to the API's (e.g. expires_in_days -> tokenExpiryPeriodInDays)."""
    fields = fields or {}
    if not hasattr(error, "error_dict"):
        return exceptions.ValidationError({"non_field_errors": _details(error.error_list)})
    detail: dict[str, list] = {}
    for key, errors in error.error_dict.items():
        name = "non_field_errors" if key == NON_FIELD_ERRORS else fields.get(key, key)
        detail.setdefault(name, []).extend(_details(errors))
    return exceptions.ValidationError(detail)


def _details(errors) -> list[exceptions.ErrorDetail]:
    return [exceptions.ErrorDetail(text(e), code=e.code or "invalid") for e in errors]


def text(error: DjangoValidationError) -> str:
    return str(error.message % error.params if error.params else error.message)


def body(request, status_code: int, message: str, errors: list[dict] | None = None) -> dict:
    return {
        "message": message,
        "requestId": getattr(request, "id", ""),
        "statusCode": status_code,
        "fieldErrors": errors or [],
    }


def _message(exc: exceptions.APIException, errors: list[dict]) -> str:
    if isinstance(exc, exceptions.ValidationError):
        general = [e["message"] for e in errors if not e["field"]]
        return " ".join(general) or "The request has errors; see fieldErrors."
    detail = exc.detail
    if isinstance(detail, dict | list):
        return str(exc.default_detail)
    return str(detail)


class BodyTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "too_large"


def api_exception_handler(exc, context):
    request = context["request"]
    if isinstance(exc, RequestDataTooBig):
        exc = BodyTooLarge()
    elif isinstance(exc, DjangoValidationError):
        exc = from_django(exc)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or None)
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    response = exception_handler(exc, context)
    if response is None:
        # Anything unforeseen still answers in the API's shape; the traceback goes to the log
        # under the request id the caller was given.
        log.exception("Unhandled error in %s %s", request.method, request.path)
        response = Response(status=status.HTTP_500_INTERNAL_SERVER_ERROR)
        response.data = body(request, 500, "Internal error. Quote the requestId when reporting.")
        return response
    errors = field_errors(exc.detail) if isinstance(exc, exceptions.ValidationError) else []
    message = _message(exc, errors)
    response.data = body(request, response.status_code, message, errors)
    log.info("API %s %s -> %s: %s", request.method, request.path, response.status_code, message)
    return response


@csrf_exempt  # it changes nothing, and a CSRF refusal would be an HTML page
def not_found(request, *args, **kwargs) -> JsonResponse:
    """Unknown paths under /api/v1/ answer in the API's shape, not with an HTML page."""
    return JsonResponse(
        body(request, 404, f"No API endpoint at {request.path}. See /api/v1/docs/."), status=404
    )
