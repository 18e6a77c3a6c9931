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
        full_name = f"{self.last_name}{self.first_name}".strip()
        return full_name or self.username

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


class AuditEvent(models.Model):
    """One entry of the audit trail: who did what to which record, when and from where.
    Entries are only ever added; the portal offers no way to change or delete them."""

    class Action(models.TextChoices):
        REVEAL = "reveal", _("Revealed a full identifier")

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
        indexes = [models.Index(fields=["object_type", "object_id"], name="audit_object_idx")]
