from django.apps import AppConfig


class TokensConfig(AppConfig):
    name = "tokens"
    verbose_name = "Agent tokens"

    def ready(self) -> None:
        # Registers the OpenAPI description of AgentTokenAuthentication with drf-spectacular.
        from tokens import schema  # noqa: F401
