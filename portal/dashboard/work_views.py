"""Curated task views and personal saved filters shown on the dashboard.

A curated view is a link to the task list with its filter parameters (see
campaigns/filters.py TaskFilter), counted here with the same conditions in one query."""

import datetime
from dataclasses import dataclass
from urllib.parse import urlencode

from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from campaigns.models import FollowUpTask
from campaigns.selectors import task_list_for
from portal.models import Role, SavedFilter

Status = FollowUpTask.Status
ACTIVE_STATUSES = (Status.OPEN, Status.IN_PROGRESS, Status.RETURNED)
# Longest saved query string; a task list filter with every field set is far shorter.
QUERY_STRING_MAX_LENGTH = 2000


class SavedFilterInvalid(ValueError):
    pass


@dataclass
class WorkView:
    """One curated view: its title, how many tasks it contains and the list behind it."""

    key: str
    title: str
    count: int
    url: str


def work_view_conditions(*, today: datetime.date) -> dict[str, Q]:
    """Return the condition on tasks of each curated view, by view key."""
    week_start, week_end = _week_of(today)
    active = Q(status__in=ACTIVE_STATUSES)
    return {
        "overdue": active & Q(due_on__lt=today),
        "due_this_week": active & Q(due_on__gte=week_start, due_on__lte=week_end),
        "returned": Q(status=Status.RETURNED),
        "awaiting_verification": Q(status=Status.DONE),
    }


def _week_of(today: datetime.date) -> tuple[datetime.date, datetime.date]:
    week_start = today - datetime.timedelta(days=today.weekday())
    return week_start, week_start + datetime.timedelta(days=6)


def work_views_for(*, user, today: datetime.date | None = None, counts: dict | None = None) -> list[WorkView]:
    """Count the tasks of each curated view in one aggregate query, or in none when the caller
    passes the `counts` by view key (the dashboard's pre-aggregated figures).

    Platform and supervisors get links to the task list filtered to their branch subtree.
    A client manager cannot open that list, so their views link to their own task list,
    which shows every open, in-progress and returned task."""
    today = today or timezone.localdate()
    week_start, week_end = _week_of(today)
    conditions = work_view_conditions(today=today)
    if counts is None:
        counts = (
            task_list_for(user=user)
            .order_by()
            .aggregate(**{key: Count("id", filter=condition) for key, condition in conditions.items()})
        )

    if user.role == Role.CLIENT_MANAGER:
        my_tasks = reverse("campaigns:my_tasks")
        titles = {
            "overdue": _("My overdue tasks"),
            "due_this_week": _("Due this week"),
            "returned": _("Returned to me"),
            "awaiting_verification": _("Done, awaiting verification"),
        }
        return [WorkView(key=key, title=str(titles[key]), count=counts[key], url=my_tasks) for key in conditions]

    branch = [("branch", user.branch_id)] if user.role == Role.SUPERVISOR and user.branch_id else []
    active_params = [("status", status.value) for status in ACTIVE_STATUSES]
    params = {
        "overdue": branch + [("overdue", "true")],
        "due_this_week": branch
        + active_params
        + [("due_from", week_start.isoformat()), ("due_to", week_end.isoformat())],
        "returned": branch + [("status", Status.RETURNED.value)],
        "awaiting_verification": branch + [("status", Status.DONE.value)],
    }
    titles = {
        "overdue": _("Overdue in my branch") if branch else _("Overdue"),
        "due_this_week": _("Due this week"),
        "returned": _("Returned for rework"),
        "awaiting_verification": _("Awaiting verification"),
    }
    task_list = reverse("campaigns:task_list")
    return [
        WorkView(key=key, title=str(titles[key]), count=counts[key], url=f"{task_list}?{urlencode(params[key])}")
        for key in conditions
    ]


def saved_filter_list_for(*, user) -> list[SavedFilter]:
    """Return the user's own saved filters, never another user's."""
    return list(SavedFilter.objects.filter(user=user))


def saved_filter_get_for(*, user, pk: int) -> SavedFilter:
    return SavedFilter.objects.get(user=user, pk=pk)


def saved_filter_url(saved_filter: SavedFilter) -> str:
    url = reverse(saved_filter.page)
    return f"{url}?{saved_filter.query_string}" if saved_filter.query_string else url


def saved_filter_create(*, user, name: str, page: str, query_string: str) -> SavedFilter:
    """Save the query string of a list page under a name unique for the user.

    The export parameters are dropped, so that opening the filter shows the page."""
    name = name.strip()
    if not name:
        raise SavedFilterInvalid(_("Missing name: give the filter a name."))
    if page not in SavedFilter.Page.values:
        raise SavedFilterInvalid(
            _("Unknown page “%(value)s”: filters are saved for the task list, the roster or the dashboard.")
            % {"value": page}
        )
    if len(query_string) > QUERY_STRING_MAX_LENGTH:
        raise SavedFilterInvalid(
            _("The filter is too long to save (%(length)s characters, at most %(limit)s).")
            % {"length": len(query_string), "limit": QUERY_STRING_MAX_LENGTH}
        )
    query_string = _query_without(query_string, names=("_export", "table", "page"))
    try:
        with transaction.atomic():
            return SavedFilter.objects.create(user=user, name=name, page=page, query_string=query_string)
    except IntegrityError as error:
        raise SavedFilterInvalid(
            _("You already have a filter named “%(name)s”: choose another name or delete that one.") % {"name": name}
        ) from error


def saved_filter_delete(*, user, pk: int) -> None:
    """Delete one of the user's own saved filters; another user's filter is not found."""
    saved_filter_get_for(user=user, pk=pk).delete()


def _query_without(query_string: str, *, names: tuple[str, ...]) -> str:
    params = QueryDict(query_string, mutable=True)
    for name in names:
        params.pop(name, None)
    return params.urlencode()
