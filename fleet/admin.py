from django.contrib import admin

from fleet.models import AgentRollup, QueueRollup


class ReadOnly(admin.ModelAdmin):
    """History is written by the sampler only; support staff read it."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AgentRollup)
class AgentRollupAdmin(ReadOnly):
    list_display = ["agent", "bucket", "samples", "healthy_samples", "slots_used_avg", "version"]
    list_filter = ["deployment"]
    list_select_related = ["agent"]
    search_fields = ["agent__name"]
    date_hierarchy = "bucket"


@admin.register(QueueRollup)
class QueueRollupAdmin(ReadOnly):
    list_display = ["queue", "deployment", "bucket", "healthy_avg", "slots_used_avg"]
    list_filter = ["deployment"]
    search_fields = ["queue"]
    date_hierarchy = "bucket"
