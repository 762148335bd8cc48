from django.contrib import admin

from deployments.models import Deployment, Organization, RoleGrant, Workspace


class WorkspaceInline(admin.TabularInline):
    model = Workspace
    extra = 0


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "id", "created_at"]
    search_fields = ["name", "id"]
    inlines = [WorkspaceInline]


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    list_display = ["name", "organization", "id", "created_at"]
    list_filter = ["organization"]
    search_fields = ["name", "id"]


class RoleGrantInline(admin.TabularInline):
    model = RoleGrant
    extra = 0
    fk_name = "deployment"
    autocomplete_fields = ["user"]


@admin.register(Deployment)
class DeploymentAdmin(admin.ModelAdmin):
    list_display = ["name", "workspace", "runtime_version", "remote_execution", "id", "created_at"]
    list_filter = ["remote_execution", "workspace__organization", "workspace"]
    search_fields = ["name", "id"]
    inlines = [RoleGrantInline]
    # Edited on the Settings page, which validates, audits and refreshes the enforcement cache.
    readonly_fields = ["allowed_ip_ranges"]


@admin.register(RoleGrant)
class RoleGrantAdmin(admin.ModelAdmin):
    list_display = ["user", "role", "workspace", "deployment", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__username", "user__email", "workspace__name", "deployment__name"]
    autocomplete_fields = ["user"]
