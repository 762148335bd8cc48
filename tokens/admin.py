from django.contrib import admin, messages
from django.utils import timezone

from astro_ui.net import client_ip
from tokens.models import AgentToken


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("active", "Active"), ("expired", "Expired"), ("deleted", "Deleted")]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "active":
            return queryset.active()
        if self.value() == "expired":
            return queryset.live().filter(expires_at__lte=now)
        if self.value() == "deleted":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.register(AgentToken)
class AgentTokenAdmin(admin.ModelAdmin):
    """Read-only: a token is created where its value can be shown once, and deleted with an audit
    event and a cache drop, so the admin offers neither add, edit nor a bare row delete."""

    list_display = [
        "name",
        "deployment",
        "hint",
        "expires_at",
        "created_by",
        "created_at",
        "last_used_at",
        "last_used_ip",
        "revoked_at",
    ]
    list_filter = [StateFilter, "deployment__workspace__organization", "deployment"]
    search_fields = ["name", "description", "hint", "id", "deployment__name", "last_used_ip"]
    list_select_related = ["deployment", "created_by"]
    date_hierarchy = "created_at"
    fields = READ_ONLY = (
        "id",
        "deployment",
        "name",
        "description",
        "hint",
        "expires_at",
        "expiry_recorded_at",
        "created_by",
        "created_at",
        "last_used_at",
        "last_used_ip",
        "revoked_at",
        "revoked_by",
    )
    readonly_fields = READ_ONLY
    actions = ["revoke_selected"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Delete (revoke) the selected tokens", permissions=["revoke"])
    def revoke_selected(self, request, queryset):
        ip = client_ip(request) or None
        count = 0
        for token in queryset.filter(revoked_at__isnull=True).select_related("deployment"):
            token.revoke(by=request.user, ip=ip)
            count += 1
        self.message_user(request, f"Revoked {count} token(s).", messages.SUCCESS)

    def has_revoke_permission(self, request) -> bool:
        return request.user.has_perm("tokens.delete_agenttoken")
