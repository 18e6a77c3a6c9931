from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from .models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "last_name", "first_name", "role", "branch", "supervisor", "is_active")
    list_filter = ("role", "is_active", "branch")
    list_select_related = ("branch", "supervisor")
    fieldsets = BaseUserAdmin.fieldsets + (
        (_("Portal"), {"fields": ("role", "branch", "supervisor", "language", "receive_digest")}),
    )
    add_fieldsets = BaseUserAdmin.add_fieldsets + (
        (_("Portal"), {"fields": ("role", "branch", "supervisor", "email")}),
    )
