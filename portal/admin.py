from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from .models import AuditEvent, ExportLog, Leave, User


class LeaveInline(admin.TabularInline):
    model = Leave
    extra = 0
    fields = ("starts_on", "ends_on", "note")


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "last_name", "first_name", "role", "branch", "supervisor", "capacity", "is_active")
    list_filter = ("role", "is_active", "branch")
    list_select_related = ("branch", "supervisor")
    fieldsets = BaseUserAdmin.fieldsets + (
        (_("Portal"), {"fields": ("role", "branch", "supervisor", "capacity", "language", "receive_digest")}),
    )
    inlines = (LeaveInline,)
    add_fieldsets = BaseUserAdmin.add_fieldsets + (
        (_("Portal"), {"fields": ("role", "branch", "supervisor", "email")}),
    )


@admin.register(Leave)
class LeaveAdmin(admin.ModelAdmin):
    list_display = ("user", "starts_on", "ends_on", "note")
    list_filter = ("user__branch",)
    list_select_related = ("user",)
    search_fields = ("user__username", "user__last_name", "note")
    date_hierarchy = "starts_on"
    autocomplete_fields = ("user",)


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The audit trail, readable and filterable by administrators, never editable."""

    list_display = ("created_at", "actor", "action", "object_type", "object_id", "ip_address")
    list_filter = ("action", "object_type")
    list_select_related = ("actor",)
    search_fields = ("actor__username", "object_id")
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ExportLog)
class ExportLogAdmin(AuditEventAdmin):
    """Every CSV or XLSX download, readable by administrators, never editable."""

    list_display = ("started_at", "user", "view_name", "export_format", "row_count")
    date_hierarchy = "started_at"
    list_filter = ("export_format", "view_name")
    list_select_related = ("user",)
    search_fields = ("user__username", "view_name")
