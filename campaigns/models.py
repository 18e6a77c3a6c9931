import datetime

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    PHONE = "phone", _("Phone")
    VISIT = "visit", _("Visit")
    WECHAT = "wechat", _("WeChat")
    SMS = "sms", _("SMS")
    EMAIL = "email", _("E-mail")


class Outcome(models.TextChoices):
    REACHED = "reached", _("Reached")
    NOT_REACHABLE = "not_reachable", _("Not reachable")
    DECLINED = "declined", _("Declined")
    INTERESTED = "interested", _("Interested")
    CONVERTED = "converted", _("Converted")


class Segment(models.Model):
    """A saved roster filter: the query parameters of the roster list, re-applied on use."""

    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True)
    filters = models.JSONField(_("filters"), default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["name"]

    def __str__(self):
        return self.name


class Campaign(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        # Queued for a Celery worker or being launched by one; see campaigns.launch_background.
        LAUNCHING = "launching", _("Launching")
        ACTIVE = "active", _("Active")
        COMPLETED = "completed", _("Completed")

    class AssignmentRule(models.TextChoices):
        OWN_MANAGER = "own_manager", _("Each customer's own client manager, the rest balanced across the pool")
        POOL = "pool", _("All customers balanced across the pool")

    name = models.CharField(_("name"), max_length=200)
    objective = models.TextField(_("objective"), blank=True)
    segment = models.ForeignKey(
        Segment, verbose_name=_("target segment"), on_delete=models.PROTECT, null=True, blank=True,
        related_name="campaigns",
    )
    talking_points = models.TextField(_("talking points"), blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("owner"), on_delete=models.PROTECT, related_name="owned_campaigns"
    )
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.DRAFT)
    starts_on = models.DateField(_("starts on"))
    due_on = models.DateField(_("tasks due on"))
    fallback_branch = models.ForeignKey(
        "customers.Branch",
        verbose_name=_("pool branch"),
        help_text=_(
            "Customers without an available client manager, or all customers under the pool rule, go to the "
            "client manager of this branch with the lowest open workload against their capacity."
        ),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    due_soon_working_days = models.PositiveSmallIntegerField(
        _("due-soon reminder (working days before due)"),
        default=2,
        help_text=_("Client managers get one reminder this many working days before a task is due; 0 turns it off."),
    )
    holdout_percent = models.PositiveSmallIntegerField(
        _("holdout control group (%)"),
        default=0,
        validators=[MaxValueValidator(50)],
        help_text=_(
            "This share of the target, from 0 to 50%, is drawn at random at launch and gets no task, "
            "so the campaign's results can compare contacted customers with customers left alone."
        ),
    )
    fatigue_max_open_tasks = models.PositiveSmallIntegerField(
        _("exclude customers with this many open tasks"),
        null=True,
        blank=True,
        help_text=_("Customers who already have at least this many open tasks in any campaign get no task. Empty turns it off."),
    )
    fatigue_contact_days = models.PositiveSmallIntegerField(
        _("exclude customers contacted within (days)"),
        null=True,
        blank=True,
        help_text=_("Customers contacted in any campaign within this many days get no task. Empty turns it off."),
    )
    pool_include_sub_branches = models.BooleanField(
        _("include sub-branches in the pool"),
        default=False,
        help_text=_("Balance tasks across the client managers of the branch and of all its sub-branches."),
    )
    verification_sample_percent = models.PositiveSmallIntegerField(
        _("verification sample (%)"),
        default=100,
        validators=[MaxValueValidator(100)],
        help_text=_("Share of done tasks the platform verifies; tasks of the top tier are always verified."),
    )
    assignment_rule = models.CharField(
        _("assignment rule"), max_length=20, choices=AssignmentRule.choices, default=AssignmentRule.OWN_MANAGER
    )
    # How the launch built the frozen target list: the segment's filters, the exclusion counts
    # and the assignment. Empty until launch.
    launch_summary = models.JSONField(_("launch summary"), default=dict, blank=True, editable=False)
    # Why the last background launch failed; the campaign went back to draft with nothing written.
    launch_error = models.TextField(_("launch error"), blank=True, editable=False)
    previous_version = models.ForeignKey(
        "self", verbose_name=_("previous version"), on_delete=models.PROTECT, null=True, blank=True,
        related_name="next_versions",
    )
    # Imported past campaigns carry outcomes but were never launched through the portal.
    is_historical = models.BooleanField(_("imported history"), default=False)
    launched_at = models.DateTimeField(_("launched at"), null=True, blank=True)
    launched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("launched by"), on_delete=models.PROTECT, null=True, blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-starts_on", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(due_on__gte=models.F("starts_on")), name="campaign_due_after_start"),
            models.CheckConstraint(condition=models.Q(holdout_percent__lte=50), name="campaign_holdout_at_most_half"),
            # Versions form a chain: a campaign has at most one next version.
            models.UniqueConstraint(fields=["previous_version"], name="campaign_one_next_version"),
        ]

    def __str__(self):
        return self.name


class FollowUpTask(models.Model):
    """One customer to contact within one campaign, owned by one client manager."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        IN_PROGRESS = "in_progress", _("In progress")
        DONE = "done", _("Done")
        VERIFIED = "verified", _("Verified")
        RETURNED = "returned", _("Returned")
        CANCELLED = "cancelled", _("Cancelled")

    # Indexed by task_campaign_due_idx, whose prefix serves every lookup by campaign.
    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="tasks", db_index=False
    )
    customer = models.ForeignKey(
        "customers.Customer", verbose_name=_("customer"), on_delete=models.PROTECT, related_name="tasks"
    )
    # Imported history can have no known client manager.
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("client manager"), on_delete=models.PROTECT, null=True, blank=True,
        related_name="tasks",
    )
    # The branch the work belongs to (the assignee's at assignment); supervisors see their subtree's tasks.
    branch = models.ForeignKey(
        "customers.Branch", verbose_name=_("branch"), on_delete=models.PROTECT, related_name="tasks"
    )
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.OPEN)
    due_on = models.DateField(_("due on"))
    channel = models.CharField(_("last channel"), max_length=20, choices=Channel.choices, blank=True)
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome.choices, blank=True)
    next_follow_up_on = models.DateField(_("next follow-up"), null=True, blank=True)
    return_reason = models.TextField(_("reason for return"), blank=True)
    # A follow-up task created from the next follow-up date recorded on this one.
    previous_task = models.ForeignKey(
        "self", verbose_name=_("previous task"), on_delete=models.SET_NULL, null=True, blank=True,
        related_name="follow_ups",
    )
    # Null until the task is done; then whether the platform must verify it or it closed unsampled.
    sampled_for_verification = models.BooleanField(_("sampled for verification"), null=True, blank=True)
    # Bumped on every change, so a form opened before someone else's change is detected as a conflict.
    version = models.PositiveIntegerField(_("version"), default=1)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("verified by"), on_delete=models.PROTECT, null=True, blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("follow-up task")
        verbose_name_plural = _("follow-up tasks")
        ordering = ["due_on", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "customer"],
                condition=models.Q(previous_task__isnull=True),
                name="task_one_per_customer_per_campaign",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["open", "in_progress", "done", "verified", "returned", "cancelled"]),
                name="task_status_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["assignee", "status", "due_on"], name="task_assignee_status_due_idx"),
            models.Index(fields=["branch", "status"], name="task_branch_status_idx"),
            models.Index(fields=["status", "due_on"], name="task_status_due_idx"),
            # Lets the dashboard's campaign uplift count a campaign's tasks and conversions from
            # the index alone, without reading the rows of the table.
            models.Index(fields=["campaign", "outcome"], name="task_campaign_outcome_idx"),
            # The task list's default order (due date, then id), so its first page reads 25 index
            # entries instead of sorting every task. Also serves the due date filters.
            models.Index(fields=["due_on", "id"], name="task_due_id_idx"),
            # One campaign's tasks in the task list's default order.
            models.Index(fields=["campaign", "due_on", "id"], name="task_campaign_due_idx"),
        ]

    def __str__(self):
        return f"{self.campaign} / {self.customer.customer_no}"

    @property
    def is_closed_for_assignee(self):
        return self.status in {self.Status.DONE, self.Status.VERIFIED}


class HeldOutCustomer(models.Model):
    """A target customer that the campaign's launch left without a task, as the control group.

    The portal records no conversion for held-out customers directly. The campaign results count
    one as converted when a contact record with outcome "converted" exists for the customer from
    the campaign's launch onwards, from any campaign or import."""

    campaign = models.ForeignKey(Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="held_out")
    customer = models.ForeignKey(
        "customers.Customer", verbose_name=_("customer"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("held-out customer")
        verbose_name_plural = _("held-out customers")
        ordering = ["campaign", "customer"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "customer"], name="held_out_once_per_campaign"),
        ]


class TaskEvent(models.Model):
    """A change of a task: who made it, when, what changed, and why."""

    class Kind(models.TextChoices):
        STATUS = "status", _("Status changed")
        REASSIGNED = "reassigned", _("Reassigned")
        DUE_DATE = "due_date", _("Due date changed")

    task = models.ForeignKey(FollowUpTask, verbose_name=_("task"), on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), on_delete=models.PROTECT, null=True, blank=True,
        related_name="+",
    )
    from_status = models.CharField(_("from"), max_length=20, choices=FollowUpTask.Status.choices, blank=True)
    to_status = models.CharField(_("to"), max_length=20, choices=FollowUpTask.Status.choices)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.STATUS)
    # Before and after values of a reassignment or due-date change, e.g. {"from": 4, "to": 9}.
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    note = models.TextField(_("note"), blank=True)
    created_at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("task event")
        verbose_name_plural = _("task events")
        ordering = ["created_at", "id"]


class ContactRecord(models.Model):
    """One contact with a customer, recorded by a client manager or imported from history."""

    task = models.ForeignKey(
        FollowUpTask, verbose_name=_("task"), on_delete=models.CASCADE, null=True, blank=True, related_name="contacts"
    )
    customer = models.ForeignKey(
        "customers.Customer", verbose_name=_("customer"), on_delete=models.PROTECT, related_name="contacts"
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("recorded by"), on_delete=models.PROTECT, null=True, blank=True,
        related_name="+",
    )
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices, blank=True)
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome.choices)
    note = models.TextField(_("note"), blank=True)
    next_follow_up_on = models.DateField(_("next follow-up"), null=True, blank=True)
    contacted_at = models.DateTimeField(_("contacted at"), db_index=True)
    # Call history from imported campaigns: the number of attempts and the last call's length.
    attempts = models.PositiveIntegerField(_("attempts"), null=True, blank=True)
    duration_seconds = models.PositiveIntegerField(_("call length (seconds)"), null=True, blank=True)
    extra = models.JSONField(_("other imported columns"), default=dict, blank=True)

    class Meta:
        verbose_name = _("contact record")
        verbose_name_plural = _("contact records")
        ordering = ["-contacted_at", "-id"]


class Reminder(models.Model):
    """The ledger of reminder mails. The unique key (recipient, kind, subject, business date)
    is what stops a second run, a duplicate Celery delivery or a second beat from sending the
    same mail again. Rows about one task carry the task's due date in the subject key, so a
    rescheduled task is reminded again."""

    class Kind(models.TextChoices):
        DIGEST = "digest", _("Morning digest")
        DUE_SOON = "due_soon", _("Due-soon reminder")
        ESCALATION = "escalation", _("Escalation")
        RETURNED = "returned", _("Returned task notice")
        OWNER_SUMMARY = "owner_summary", _("Weekly campaign owner summary")
        PLATFORM_SUMMARY = "platform_summary", _("Daily platform summary")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        # The task was closed or reassigned before its reminder went out.
        CANCELLED = "cancelled", _("Cancelled")

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("recipient"), on_delete=models.CASCADE, related_name="reminders"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    # What the reminder is about beyond recipient and day, e.g. "task:12:due:2026-03-04"; empty for a digest.
    subject_key = models.CharField(_("subject"), max_length=100, blank=True, default="")
    business_date = models.DateField(_("business date"))
    task = models.ForeignKey(
        FollowUpTask, verbose_name=_("task"), on_delete=models.CASCADE, null=True, blank=True, related_name="reminders"
    )
    # 1 for the client manager, 2 for the supervisor, 3 for the head of the parent branch.
    escalation_level = models.PositiveSmallIntegerField(_("escalation level"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("reminder")
        verbose_name_plural = _("reminders")
        ordering = ["-business_date", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "kind", "subject_key", "business_date"], name="reminder_once_per_key"
            ),
        ]
        indexes = [models.Index(fields=["status", "kind"], name="reminder_status_kind_idx")]


class WorkingDayOverride(models.Model):
    """An administrator's correction of the mainland China working-day calendar for one date,
    for years the calendar package does not cover or for a late official change."""

    date = models.DateField(_("date"), unique=True)
    is_working_day = models.BooleanField(_("working day"))
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("working-day override")
        verbose_name_plural = _("working-day overrides")
        ordering = ["-date"]

    def __str__(self):
        return f"{self.date:%Y-%m-%d}"


class ReminderRun(models.Model):
    """One run of a reminder schedule, with its counts, for the administrators' status page."""

    schedule = models.CharField(_("schedule"), max_length=100, db_index=True)
    business_date = models.DateField(_("business date"))
    started_at = models.DateTimeField(_("started at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    sent = models.PositiveIntegerField(_("sent"), default=0)
    failed = models.PositiveIntegerField(_("failed"), default=0)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("reminder run")
        verbose_name_plural = _("reminder runs")
        ordering = ["-started_at", "-id"]


class BeatHeartbeat(models.Model):
    """The last time the heartbeat task ran: proof that beat schedules and a worker consumes."""

    name = models.CharField(_("name"), max_length=50, unique=True)
    beat_at = models.DateTimeField(_("last heartbeat"))

    class Meta:
        verbose_name = _("beat heartbeat")
        verbose_name_plural = _("beat heartbeats")


class TaskFigureSummary(models.Model):
    """Dashboard figures of the tasks of one branch (the task's own branch, not its subtree),
    as a whole or per campaign, client manager, customer tier or completion week.

    portal.dashboard.summary rebuilds every row in one transaction, so the dashboard sums a few
    thousand rows of a user's branch subtree instead of grouping millions of tasks on each
    request. The foreign keys have no database constraint because the rows are a disposable
    copy: a row pointing at a deleted campaign or user disappears at the next rebuild."""

    class Grouping(models.TextChoices):
        BRANCH = "branch"
        CAMPAIGN = "campaign"
        ASSIGNEE = "assignee"
        TIER = "tier"
        WEEK = "week"

    grouping = models.CharField(max_length=10, choices=Grouping.choices)
    # NULL in the bank-wide campaign rows, which spare the platform's dashboard from adding up
    # one row per campaign and branch.
    branch = models.ForeignKey(
        "customers.Branch", on_delete=models.DO_NOTHING, db_constraint=False, null=True, related_name="+"
    )
    campaign = models.ForeignKey(
        Campaign, on_delete=models.DO_NOTHING, db_constraint=False, null=True, related_name="+"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, db_constraint=False, null=True, related_name="+"
    )
    tier = models.ForeignKey(
        "customers.Tier", on_delete=models.DO_NOTHING, db_constraint=False, null=True, related_name="+"
    )
    # Monday of the local week of completed_at, for week rows only.
    week = models.DateField(null=True)
    # The counts of portal.dashboard.selectors.TaskFigures; week rows fill only the last two.
    tasks = models.PositiveIntegerField(default=0)
    cancelled = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    verified = models.PositiveIntegerField(default=0)
    on_time = models.PositiveIntegerField(default=0)
    # Open tasks due before TaskFigureSummaryRun.as_of.
    overdue = models.PositiveIntegerField(default=0)
    timed = models.PositiveIntegerField(default=0)
    duration_total = models.DurationField(default=datetime.timedelta(0))
    outcome_reached = models.PositiveIntegerField(default=0)
    outcome_not_reachable = models.PositiveIntegerField(default=0)
    outcome_declined = models.PositiveIntegerField(default=0)
    outcome_interested = models.PositiveIntegerField(default=0)
    outcome_converted = models.PositiveIntegerField(default=0)
    completed = models.PositiveIntegerField(default=0)
    completed_converted = models.PositiveIntegerField(default=0)
    # The counts of the dashboard's curated task views (portal.dashboard.work_views), as of
    # TaskFigureSummaryRun.as_of, in branch rows only.
    view_overdue = models.PositiveIntegerField(default=0)
    view_due_this_week = models.PositiveIntegerField(default=0)
    view_returned = models.PositiveIntegerField(default=0)
    view_awaiting_verification = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["grouping", "branch"], name="task_summary_grouping_idx")]


class TaskFigureSummaryRun(models.Model):
    """One rebuild of TaskFigureSummary: the local date its overdue counts were computed for
    and when it ran. The dashboard shows the figures of the latest run and its time."""

    as_of = models.DateField()
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    # Tasks read by the rebuild, cancelled ones included.
    task_count = models.PositiveIntegerField(default=0)
    # Campaign id -> [contacted, contacted converted, held out, held out converted] of each
    # campaign with a holdout group (portal.dashboard.selectors.campaign_uplift_groups).
    uplift_groups = models.JSONField(default=dict)

    class Meta:
        ordering = ["-finished_at", "-id"]


class AnalysisSummary(models.Model):
    """Figures of the analysis for the next campaign (portal.dashboard.analysis) per group of
    one dimension, rebuilt by portal.dashboard.analysis_summary in one transaction.

    Roster rows count the customers of one branch (the customer's own branch) and sum their
    AUM; each customer has one branch, so the rows of a subtree add up. Response rows count
    distinct customers, and a customer's tasks may sit in several branches, so those counts do
    not add up. Each response row therefore stores the exact count of a whole subtree (`branch`
    is its top), or of the bank when `branch` is NULL, and a reader takes one row per group."""

    class Kind(models.TextChoices):
        ROSTER = "roster"
        RESPONSE = "response"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    # A roster or response dimension of portal.dashboard.analysis, or "all" for the overall
    # response row.
    dimension = models.CharField(max_length=20)
    branch = models.ForeignKey(
        "customers.Branch", on_delete=models.DO_NOTHING, db_constraint=False, null=True, related_name="+"
    )
    # The group's key as the live query returns it (NULL and "" stay apart, as there); NULL in
    # tier rows, whose group is `tier`.
    key = models.TextField(null=True)
    tier = models.ForeignKey(
        "customers.Tier", on_delete=models.DO_NOTHING, db_constraint=False, null=True, related_name="+"
    )
    customers = models.PositiveIntegerField(default=0)
    aum = models.DecimalField(max_digits=24, decimal_places=2, default=0)
    converted = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["kind", "dimension", "branch"], name="analysis_summary_lookup_idx")]


class AnalysisSummaryRun(models.Model):
    """One rebuild of AnalysisSummary: the local date its age bands were computed for and when
    it ran. The analysis page uses the latest run while it is fresh and states its time."""

    as_of = models.DateField()
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()

    class Meta:
        ordering = ["-finished_at", "-id"]
