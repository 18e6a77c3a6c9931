from django.contrib import admin

from .models import Branch, Tier


@admin.register(Branch)
class BranchAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "level", "parent")
    list_select_related = ("parent",)
    search_fields = ("code", "name")


@admin.register(Tier)
class TierAdmin(admin.ModelAdmin):
    list_display = ("code", "name_en", "name_zh", "min_aum", "contact_interval_days")
