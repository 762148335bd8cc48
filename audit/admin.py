from django.contrib import admin

from audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "actor_type",
        "actor_label",
        "action",
        "target_label",
        "deployment",
        "source_ip",
    ]
    list_filter = ["actor_type", "action", "deployment"]
    search_fields = ["actor_label", "action", "target_label", "target_id", "source_ip"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        # Append-only for everyone, superusers included; this also drops "Delete selected".
        return False
