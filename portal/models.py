from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    PLATFORM = "platform", _("Platform operator")
    SUPERVISOR = "supervisor", _("Supervisor")
    CLIENT_MANAGER = "client_manager", _("Client manager")
    ADMINISTRATOR = "administrator", _("Administrator")


class User(AbstractUser):
    """A member of staff. The role and branch decide which customers and tasks they see."""

    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.CLIENT_MANAGER)
    branch = models.ForeignKey(
        "customers.Branch",
        verbose_name=_("branch"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="staff",
    )
    supervisor = models.ForeignKey(
        "self",
        verbose_name=_("supervisor"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="reports",
        limit_choices_to={"role": Role.SUPERVISOR},
    )
    language = models.CharField(
        _("language"), max_length=10, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE
    )
    receive_digest = models.BooleanField(_("receive the morning digest"), default=True)
    amount_in_wan = models.BooleanField(
        _("show large amounts in 万元 (10,000 yuan)"),
        default=False,
        help_text=_("In the Chinese interface, amounts of 10,000 yuan or more are shown in 万元. Exports always contain the full amount."),
    )
    capacity = models.PositiveIntegerField(
        _("capacity (open tasks)"),
        default=100,
        help_text=_("The most open tasks balanced assignment and handovers give this client manager."),
    )

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role__in=[choice.value for choice in Role]),
                name="user_role_valid",
            ),
        ]

    def __str__(self):
        return self.label(username=self.username, first_name=self.first_name, last_name=self.last_name)

    @staticmethod
    def label(*, username: str, first_name: str, last_name: str) -> str:
        """Return how the portal names a user: family name then given name, as Chinese names
        are written, or the username when both are empty."""
        full_name = f"{last_name}{first_name}".strip()
        return full_name or username

    @property
    def is_platform(self):
        return self.role == Role.PLATFORM

    @property
    def is_supervisor(self):
        return self.role == Role.SUPERVISOR

    @property
    def is_client_manager(self):
        return self.role == Role.CLIENT_MANAGER

    @property
    def is_administrator(self):
        return self.role == Role.ADMINISTRATOR


class Leave(models.Model):
    """A period, both days included, when a client manager is away and gets no new tasks."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="leaves"
    )
    starts_on = models.DateField(_("first day"))
    ends_on = models.DateField(_("last day"))
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("leave")
        verbose_name_plural = _("leaves")
        ordering = ["starts_on", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(ends_on__gte=models.F("starts_on")), name="leave_ends_after_start"),
        ]

    def __str__(self):
        return f"{self.user} {self.starts_on}–{self.ends_on}"


class AuditEvent(models.Model):
    """One entry of the audit trail: who did what to which record, when and from where.
    Entries are only ever added. The portal offers no way to change or delete them, and
    `save` and `delete` on an existing entry raise ValueError."""

    class Action(models.TextChoices):
        CREATE = "create", _("Created")
        UPDATE = "update", _("Changed")
        # A change of the customer's client manager or of the task's assignee.
        ASSIGN = "assign", _("Reassigned")
        DELETE = "delete", _("Deleted")
        EXPORT = "export", _("Exported")
        REVEAL = "reveal", _("Revealed a full identifier")
        LOGIN = "login", _("Signed in")
        LOGIN_FAILED = "login_failed", _("Sign-in failed")
        LOGOUT = "logout", _("Signed out")
        ACCESS_DENIED = "access_denied", _("Access denied")
        # A page raised "not found" for a signed-in user: the record is outside the user's
        # scope or does not exist, which the page does not tell apart.
        NOT_FOUND = "not_found", _("Not found or out of scope")

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.PROTECT, null=True, related_name="+"
    )
    action = models.CharField(_("action"), max_length=30, choices=Action.choices)
    object_type = models.CharField(_("record type"), max_length=50)
    object_id = models.CharField(_("record id"), max_length=50)
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    created_at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["object_type", "object_id"], name="audit_object_idx"),
            models.Index(fields=["action", "created_at"], name="audit_action_created_idx"),
        ]

    def __str__(self):
        return f"{self.get_action_display()} {self.object_type} {self.object_id}".strip()

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError(f"Audit event {self.pk} cannot be changed: the audit trail is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        # NOTE: QuerySet.delete() and raw SQL bypass this method. Only database privileges
        # (INSERT and SELECT on this table for the portal's role) make the trail tamper-proof.
        raise ValueError(f"Audit event {self.pk} cannot be deleted: the audit trail is append-only.")


class ExportLog(models.Model):
    """One CSV or XLSX download of a table: who, from which page, with which filter, how many rows.

    An export with more rows than settings.EXPORT_BACKGROUND_ROWS is written by a Celery worker
    to a file under settings.EXPORT_ROOT, which only `user` may download until it expires."""

    class FileStatus(models.TextChoices):
        # A blank status marks an export sent within its request.
        QUEUED = "queued", _("Waiting for a worker")
        RUNNING = "running", _("Writing the file")
        READY = "ready", _("Ready to download")
        FAILED = "failed", _("Failed")
        EXPIRED = "expired", _("Expired")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.PROTECT, related_name="exports"
    )
    view_name = models.CharField(_("page"), max_length=100)
    query_string = models.TextField(_("filter"), blank=True)
    export_format = models.CharField(_("format"), max_length=10)
    # None until the last row has been sent; stays None when the download was interrupted.
    row_count = models.PositiveIntegerField(_("rows"), null=True, blank=True)
    started_at = models.DateTimeField(_("started at"), auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    # A background export's worker rebuilds the table by requesting `path` with the filter as
    # `user`, in `language`, so the file has the scope and headers of the screen.
    path = models.CharField(_("path"), max_length=200, blank=True)
    language = models.CharField(_("language"), max_length=10, blank=True)
    file_status = models.CharField(_("file status"), max_length=10, choices=FileStatus.choices, blank=True)
    expected_rows = models.PositiveIntegerField(_("expected rows"), null=True, blank=True)
    rows_written = models.PositiveIntegerField(_("rows written"), default=0)
    # Relative to settings.EXPORT_ROOT; blank until the file is complete and after it expires.
    file_path = models.CharField(_("file"), max_length=200, blank=True)
    download_name = models.CharField(_("download name"), max_length=200, blank=True)
    failure = models.TextField(_("failure"), blank=True)

    class Meta:
        verbose_name = _("export log entry")
        verbose_name_plural = _("export log")
        ordering = ["-started_at"]

    def __str__(self):
        return f"{self.view_name} {self.export_format} by {self.user_id} at {self.started_at:%Y-%m-%d %H:%M}"


class SavedFilter(models.Model):
    """A user's own named filter of the task list, the roster or the dashboard."""

    class Page(models.TextChoices):
        TASKS = "campaigns:task_list", _("Tasks")
        ROSTER = "customers:list", _("Roster")
        DASHBOARD = "dashboard:index", _("Dashboard")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="saved_filters"
    )
    name = models.CharField(_("name"), max_length=100)
    page = models.CharField(_("page"), max_length=50, choices=Page.choices)
    query_string = models.TextField(_("filter"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("saved filter")
        verbose_name_plural = _("saved filters")
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="saved_filter_name_unique_per_user"),
        ]

    def __str__(self):
        return self.name
