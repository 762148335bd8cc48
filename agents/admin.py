from django.contrib import admin

from agents.models import Agent


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    """Read-only for support staff: state changes go through the console, which audits them."""

    list_display = [
        "name",
        "deployment",
        "component",
        "health",
        "cordoned_at",
        "version",
        "last_heartbeat_at",
        "last_ip",
        "deleted_at",
    ]
    list_filter = [
        "component",
        "health",
        ("cordoned_at", admin.EmptyFieldListFilter),
        ("deleted_at", admin.EmptyFieldListFilter),
        "deployment",
    ]
    search_fields = ["name", "hostname", "last_ip", "id"]
    list_select_related = ["deployment"]
    date_hierarchy = "first_seen_at"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Agent._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
