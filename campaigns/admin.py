"""Admin pages for the reminder ledger, the working-day calendar and the reminder runs."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .models import BeatHeartbeat, Campaign, Reminder, ReminderRun, WorkingDayOverride


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records that the system writes. Administrators read them and never edit them by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Reminder)
class ReminderAdmin(admin.ModelAdmin):
    """The ledger, read-only except for the action that sends a failed reminder again."""

    list_display = ("business_date", "kind", "escalation_level", "recipient", "status", "attempts", "sent_at")
    list_filter = ("status", "kind", "business_date")
    list_select_related = ("recipient",)
    search_fields = ("recipient__username", "subject_key")
    date_hierarchy = "business_date"
    actions = ["reminder_send_again"]

    @admin.action(description=_("Send again at the next run"), permissions=["change"])
    def reminder_send_again(self, request, queryset):
        # Only failed rows: a sent row stays sent, or the recipient would get the mail twice.
        count = queryset.filter(status=Reminder.Status.FAILED).update(
            status=Reminder.Status.PENDING, attempts=0, last_error=""
        )
        self.message_user(
            request,
            ngettext(
                "%(count)s failed reminder will be sent at the next run.",
                "%(count)s failed reminders will be sent at the next run.",
                count,
            )
            % {"count": count},
            messages.SUCCESS,
        )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]


@admin.register(WorkingDayOverride)
class WorkingDayOverrideAdmin(admin.ModelAdmin):
    list_display = ("date", "is_working_day", "note")
    list_filter = ("is_working_day",)
    date_hierarchy = "date"


@admin.register(ReminderRun)
class ReminderRunAdmin(ReadOnlyAdmin):
    list_display = ("started_at", "schedule", "business_date", "finished_at", "sent", "failed")
    list_filter = ("schedule",)
    date_hierarchy = "started_at"


@admin.register(BeatHeartbeat)
class BeatHeartbeatAdmin(ReadOnlyAdmin):
    list_display = ("name", "beat_at")


@admin.register(Campaign)
class CampaignReminderAdmin(admin.ModelAdmin):
    """Only the reminder setting of a campaign; everything else is edited in the portal."""

    list_display = ("name", "status", "owner", "due_on", "due_soon_working_days")
    list_filter = ("status",)
    list_select_related = ("owner",)
    search_fields = ("name",)
    fields = ("name", "status", "owner", "starts_on", "due_on", "due_soon_working_days")
    readonly_fields = ("name", "status", "owner", "starts_on", "due_on")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
