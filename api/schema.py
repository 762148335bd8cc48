"""OpenAPI schema helpers for the management API (drf-spectacular)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


def only_management_api(endpoints, **kwargs):
    """Leave the agent API out: it has its own clients and contract."""
    return [endpoint for endpoint in endpoints if not endpoint[0].startswith("/api/agent/")]


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.auth.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token (raapi_…), created under Account -> API tokens.",
        }
