from django import template
from django.db.models import Count

from agents import versions
from agents.models import Agent
from fleet.cleanup import stale_agents
from fleet.views import StaleAgentsForm

register = template.Library()


@register.simple_tag
def version_support(version: str) -> versions.Support:
    return versions.support(version)


@register.inclusion_tag("fleet/_version_counts.html")
def version_counts(deployment) -> dict:
    agents = Agent.objects.live().filter(deployment=deployment)
    per_version = agents.values_list("version").annotate(n=Count("id")).order_by()
    counts = versions.counts(per_version)
    rows = [(state, label, counts[state]) for state, label in versions.State.CHOICES]
    return {"deployment": deployment, "rows": rows}


@register.inclusion_tag("fleet/stale_agents.html#cleanup-panel", takes_context=True)
def cleanup_panel(context, access) -> dict:
    """The Settings page's clean-up panel, previewing the saved setting."""
    deployment = access.deployment
    days = deployment.stale_agent_days
    return {
        "deployment": deployment,
        "access": access,
        "csrf_token": context.get("csrf_token"),
        "form": StaleAgentsForm(initial={"days": days}),
        "days": days,
        "preview": stale_agents(deployment, days) if days else [],
    }
