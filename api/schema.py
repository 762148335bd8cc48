"""OpenAPI schema helpers for the management API (drf-spectacular)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


def only_management_api(endpoints, **kwargs):
    """Keep /api/v1/ only: the agent API has its own clients and contract."""
    return [
        (path, regex, method, view)
        for path, regex, method, view in endpoints
        if path.startswith("/api/v1/organizations/")
    ]


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.auth.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token (raapi_…), created under Account -> API tokens.",
        }
