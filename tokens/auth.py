"""Agent token authentication for the agent API (placeholder until the tokens work lands)."""


def forget(digest: str) -> None:
    """Drop the cached entry for a token digest."""
