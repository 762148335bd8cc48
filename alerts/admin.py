from django.contrib import admin

from alerts.models import Channel, Delivery


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    """For support staff: the signing secret is not a field here, so it is never shown."""

    list_display = ["name", "deployment", "kind", "enabled", "consecutive_failures", "created_at"]
    list_filter = ["kind", "enabled"]
    search_fields = ["name", "id"]
    list_select_related = ["deployment"]
    readonly_fields = ["consecutive_failures", "disabled_at", "created_by", "created_at"]


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "channel", "summary", "status", "attempts", "status_code"]
    list_filter = ["status"]
    list_select_related = ["channel"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Delivery._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False
