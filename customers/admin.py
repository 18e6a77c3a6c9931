from django.contrib import admin

from .models import Branch, Tier


@admin.register(Branch)
class BranchAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "level", "parent", "head")
    list_select_related = ("parent", "head")
    search_fields = ("code", "name")
    # A bank has thousands of users, too many for a select box.
    raw_id_fields = ("head",)


@admin.register(Tier)
class TierAdmin(admin.ModelAdmin):
    list_display = ("code", "name_en", "name_zh", "min_aum", "contact_interval_days")
