"""Audit entries written from signals, so that services need no audit calls of their own:
create, change and delete of customers, follow-up tasks and campaigns, every export, and
sign-in, failed sign-in and sign-out.

A change is found by reading the row before the save (pre_save, one SELECT of the saved
fields) and comparing it with the instance after the save (post_save). Entries carry the
before and after values of the changed fields, with phone numbers, ID numbers and e-mail
addresses masked. Bulk writes send no model signals: see portal.audit.audit_bulk."""

import datetime
import uuid
from decimal import Decimal

from django.apps import apps
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import models
from django.db.models.signals import post_delete, post_save, pre_save
from django.utils import timezone

from .audit import audit_write, current_request
from .masking import mask_email, mask_id_number, mask_name, mask_phone
from .models import AuditEvent

# The audited models, each with the field whose change is a reassignment (None: no such field).
AUDITED_MODELS = {
    "customers.Customer": "client_manager",
    "campaigns.FollowUpTask": "assignee",
    "campaigns.Campaign": None,
}
# Fields masked in every audited model, by name.
MASKED_FIELDS = {"phone": mask_phone, "id_number": mask_id_number, "email": mask_email}
# Fields masked in one model only: a customer's name is personal data, a campaign's is not.
MODEL_MASKED_FIELDS = {"customers.Customer": {"name": mask_name}}
# Instance attribute with the row as pre_save read it.
SNAPSHOT_ATTRIBUTE = "_audit_snapshot"
USER_OBJECT_TYPE = "portal.user"


def audited_fields(model) -> list:
    """Return the concrete fields whose changes are recorded: all but the primary key and the
    timestamps Django sets itself."""
    return [
        field
        for field in model._meta.concrete_fields
        if not field.primary_key and not getattr(field, "auto_now", False) and not getattr(field, "auto_now_add", False)
    ]


def _fields_to_compare(model, update_fields) -> list:
    fields = audited_fields(model)
    if update_fields is not None:
        fields = [field for field in fields if field.name in update_fields or field.attname in update_fields]
    return fields


def json_safe(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value).isoformat() if timezone.is_aware(value) else value.isoformat()
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return str(value)


def masked_value(field, value):
    """Return `value` of `field` as stored in an entry: identifiers and customer names masked,
    the rest JSON-safe."""
    masks = {**MASKED_FIELDS, **MODEL_MASKED_FIELDS.get(field.model._meta.label, {})}
    if value in (None, "") or field.name not in masks:
        return json_safe(value)
    return masks[field.name](str(value))


def field_change(field, before, after):
    """Return the [before, after] pair of one changed field, or None when it did not change.

    JSON fields (such as the roster's other imported columns) may hold any personal data
    unmasked, so for them only the names of the changed keys are recorded."""
    if before == after:
        return None
    if isinstance(field, models.JSONField):
        before_dict = before if isinstance(before, dict) else {}
        after_dict = after if isinstance(after, dict) else {}
        keys = sorted(key for key in before_dict.keys() | after_dict.keys() if before_dict.get(key) != after_dict.get(key))
        return {"changed_keys": keys}
    return [masked_value(field, before), masked_value(field, after)]


def _snapshot_before_save(sender, instance, raw=False, using=None, update_fields=None, **kwargs):
    if raw or instance._state.adding or instance.pk is None:
        return
    fields = _fields_to_compare(sender, update_fields)
    row = sender._base_manager.using(using).filter(pk=instance.pk).values(*[field.attname for field in fields]).first()
    setattr(instance, SNAPSHOT_ATTRIBUTE, row)


def _record_save(sender, instance, created, raw=False, using=None, update_fields=None, **kwargs):
    if raw:
        return
    snapshot = instance.__dict__.pop(SNAPSHOT_ATTRIBUTE, None)
    if created:
        changes = {}
        for field in audited_fields(sender):
            change = field_change(field, None, field.value_from_object(instance))
            if change not in (None, [None, ""], {"changed_keys": []}):
                changes[field.name] = change
        audit_write(
            action=AuditEvent.Action.CREATE,
            object_type=sender._meta.label_lower,
            object_id=instance.pk,
            detail={"changes": changes},
            using=using,
        )
        return
    if snapshot is None:
        # The row was not in the database before this save (Model.save with a preset key).
        return
    changes = {}
    for field in _fields_to_compare(sender, update_fields):
        change = field_change(field, snapshot[field.attname], field.value_from_object(instance))
        if change is not None:
            changes[field.name] = change
    if not changes:
        return
    assignment_field = AUDITED_MODELS.get(sender._meta.label)
    action = AuditEvent.Action.ASSIGN if assignment_field in changes else AuditEvent.Action.UPDATE
    audit_write(
        action=action,
        object_type=sender._meta.label_lower,
        object_id=instance.pk,
        detail={"changes": changes},
        using=using,
    )


def _record_delete(sender, instance, using=None, **kwargs):
    changes = {}
    for field in audited_fields(sender):
        change = field_change(field, field.value_from_object(instance), None)
        if change not in (None, ["", None], {"changed_keys": []}):
            changes[field.name] = change
    audit_write(
        action=AuditEvent.Action.DELETE,
        object_type=sender._meta.label_lower,
        object_id=instance.pk,
        detail={"changes": changes},
        using=using,
    )


def _record_export(sender, instance, created, raw=False, using=None, **kwargs):
    # ExportLog's row is created when the download starts. Its row count is set later by a
    # QuerySet.update, which sends no signal.
    if not created or raw:
        return
    audit_write(
        action=AuditEvent.Action.EXPORT,
        object_type=sender._meta.label_lower,
        object_id=instance.pk,
        detail={"page": instance.view_name, "format": instance.export_format, "filter": instance.query_string[:1000]},
        actor=instance.user,
        using=using,
    )


def _record_login(sender, request, user, **kwargs):
    audit_write(
        action=AuditEvent.Action.LOGIN,
        object_type=USER_OBJECT_TYPE,
        object_id=user.pk,
        detail={"backend": getattr(user, "backend", "")},
        actor=user,
        request=request,
    )


def _record_login_failure(sender, credentials, request=None, **kwargs):
    # Only the attempted username is kept. Django has already replaced the password in
    # `credentials` with stars, but no credential other than the username is stored at all.
    username = str(credentials.get("username", ""))[:150]
    audit_write(
        action=AuditEvent.Action.LOGIN_FAILED,
        object_type=USER_OBJECT_TYPE,
        detail={"username": username, "locked_out": bool(getattr(request, "axes_locked_out", False))},
        request=request if request is not None else current_request.get(),
    )


def _record_logout(sender, request, user, **kwargs):
    if user is None or not user.is_authenticated:
        return
    audit_write(
        action=AuditEvent.Action.LOGOUT,
        object_type=USER_OBJECT_TYPE,
        object_id=user.pk,
        actor=user,
        request=request,
    )


def connect() -> None:
    """Connect the receivers. PortalConfig.ready() calls this once."""
    for label in AUDITED_MODELS:
        model = apps.get_model(label)
        pre_save.connect(_snapshot_before_save, sender=model, dispatch_uid=f"audit_snapshot_{label}")
        post_save.connect(_record_save, sender=model, dispatch_uid=f"audit_save_{label}")
        post_delete.connect(_record_delete, sender=model, dispatch_uid=f"audit_delete_{label}")
    post_save.connect(_record_export, sender=apps.get_model("portal.ExportLog"), dispatch_uid="audit_export")
    user_logged_in.connect(_record_login, dispatch_uid="audit_login")
    user_login_failed.connect(_record_login_failure, dispatch_uid="audit_login_failed")
    user_logged_out.connect(_record_logout, dispatch_uid="audit_logout")
