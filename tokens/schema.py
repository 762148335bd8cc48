"""How the OpenAPI schema describes agent token authentication."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class AgentTokenScheme(OpenApiAuthenticationExtension):
    target_class = "tokens.auth.AgentTokenAuthentication"
    name = "agentToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "ragt_ + 32 base62 characters + 6-character checksum",
            "description": "An agent token of the deployment named in the URL.",
        }
