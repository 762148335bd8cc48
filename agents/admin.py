from django.contrib import admin
from django.utils.html import format_html

from agents import liveness
from agents.models import Agent


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    """Read-only for support staff: state changes go through the console, which audits them.

    Status and last heartbeat come from the liveness rule, as on the Agents page; the sweep's
    recorded health and the database checkpoint are shown for what they are.
    """

    list_display = [
        "name",
        "deployment",
        "component",
        "status",
        "cordoned_at",
        "version",
        "last_ip",
        "heartbeat_checkpoint_at",
        "deleted_at",
    ]
    list_filter = [
        "component",
        ("cordoned_at", admin.EmptyFieldListFilter),
        ("deleted_at", admin.EmptyFieldListFilter),
        "deployment",
    ]
    search_fields = ["name", "hostname", "last_ip", "id"]
    list_select_related = ["deployment"]
    # Each row costs two small Redis reads for its liveness; support staff page through, they
    # do not scroll thousands.
    list_per_page = 50
    date_hierarchy = "first_seen_at"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Agent._meta.fields] + ["status"]

    @admin.display(description="status")
    def status(self, agent: Agent) -> str:
        live = liveness.of(agent)
        if live.last_heartbeat_at is not None:
            exact = f"last heartbeat {live.last_heartbeat_at:%Y-%m-%d %H:%M:%S} UTC"
            when = f"{live.silent_for:.0f} s ago"
        else:
            exact = live.reason or ""
            when = "" if live.status == liveness.Status.TERMINATED else "no heartbeat time"
        return format_html(
            '<span data-status="{}" title="{}" style="white-space: nowrap">{}'
            ' <span class="help">{}</span></span>',
            live.status,
            exact,
            liveness.Status(live.status).label,
            when,
        )

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
