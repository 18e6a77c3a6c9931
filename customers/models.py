from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


class Branch(models.Model):
    """Head office, a branch or a sub-branch. `path` contains the ids from the root down
    ("/1/4/9/"), so a subtree is one indexed prefix match instead of a recursive query."""

    class Level(models.TextChoices):
        HEAD_OFFICE = "head_office", _("Head office")
        BRANCH = "branch", _("Branch")
        SUB_BRANCH = "sub_branch", _("Sub-branch")

    code = models.CharField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=100)
    level = models.CharField(_("level"), max_length=20, choices=Level.choices, default=Level.BRANCH)
    parent = models.ForeignKey(
        "self", verbose_name=_("parent"), on_delete=models.PROTECT, null=True, blank=True, related_name="children"
    )
    path = models.CharField(max_length=255, editable=False, db_index=True, default="")
    # The last level of the overdue escalation chain goes to the head of the parent branch.
    head = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("head"), on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("branch")
        verbose_name_plural = _("branches")
        ordering = ["path"]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        # The id is part of the path, so a new branch is saved twice.
        if self.pk is None:
            super().save(*args, **kwargs)
            kwargs.pop("force_insert", None)
        parent_path = self.parent.path if self.parent_id else "/"
        new_path = f"{parent_path}{self.pk}/"
        if new_path != self.path:
            old_path = self.path
            self.path = new_path
            super().save(update_fields=["path", "code", "name", "level", "parent"])
            if old_path:
                for child in Branch.objects.filter(path__startswith=old_path).exclude(pk=self.pk):
                    child.path = new_path + child.path[len(old_path):]
                    child.save(update_fields=["path"])
        else:
            super().save(*args, **kwargs)

    def subtree(self):
        return Branch.objects.filter(path__startswith=self.path)


class Tier(models.Model):
    """A band of AUM with its own service standard. A customer belongs to the tier with the
    highest threshold at or below their AUM, or to none below the lowest threshold."""

    code = models.CharField(_("code"), max_length=20, unique=True)
    name_en = models.CharField(_("name (English)"), max_length=50)
    name_zh = models.CharField(_("name (Chinese)"), max_length=50)
    min_aum = models.DecimalField(_("minimum AUM (CNY)"), max_digits=18, decimal_places=2, unique=True)
    contact_interval_days = models.PositiveIntegerField(
        _("contact at least every (days)"), help_text=_("The service standard: the longest gap between contacts.")
    )

    class Meta:
        verbose_name = _("tier")
        verbose_name_plural = _("tiers")
        ordering = ["min_aum"]

    def __str__(self):
        return self.name

    @property
    def name(self):
        return self.name_zh if (get_language() or "").startswith("zh") else self.name_en


class Gender(models.TextChoices):
    MALE = "M", _("Male")
    FEMALE = "F", _("Female")


class Customer(models.Model):
    """A person in the roster, keyed by the customer number from core banking."""

    customer_no = models.CharField(_("customer number"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100, blank=True)
    gender = models.CharField(_("gender"), max_length=1, choices=Gender.choices, blank=True)
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    # Kept for rosters that give an age instead of a birth date.
    age = models.PositiveSmallIntegerField(_("age"), null=True, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    id_number = models.CharField(_("ID number"), max_length=32, blank=True)
    occupation = models.CharField(_("occupation"), max_length=100, blank=True)
    marital_status = models.CharField(_("marital status"), max_length=30, blank=True)
    education = models.CharField(_("education"), max_length=50, blank=True)
    credit_default = models.BooleanField(_("credit in default"), null=True, blank=True)
    housing_loan = models.BooleanField(_("housing loan"), null=True, blank=True)
    personal_loan = models.BooleanField(_("personal loan"), null=True, blank=True)
    # The branch, client manager and tier foreign keys are indexed by composite indexes in
    # Meta.indexes that start with them.
    branch = models.ForeignKey(
        Branch, verbose_name=_("branch"), on_delete=models.PROTECT, related_name="customers", db_index=False
    )
    client_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("client manager"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="customers",
        db_index=False,
    )
    aum = models.DecimalField(_("AUM (CNY)"), max_digits=18, decimal_places=2, default=Decimal("0"))
    # No database constraint, because the tier follows from the AUM and is set from tiers just
    # read. Its check at commit took 0.38 s of a 100,000-row import. Django applies SET_NULL.
    tier = models.ForeignKey(
        Tier, verbose_name=_("tier"), on_delete=models.SET_NULL, null=True, blank=True, related_name="customers",
        db_index=False, db_constraint=False,
    )
    risk_level = models.CharField(_("risk level"), max_length=10, blank=True)
    do_not_contact = models.BooleanField(_("do not contact"), default=False)
    # Set by the first complete roster import that does not contain the customer, cleared by
    # the next one that does. Customers are never deleted by an import.
    missing_since = models.DateField(_("missing from the roster since"), null=True, blank=True)
    extra = models.JSONField(_("other imported columns"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["customer_no"]
        # Every index here is maintained for each imported row, so each one serves a query and
        # the partial ones hold only the rows that query can match.
        indexes = [
            models.Index(fields=["aum"], name="customer_aum_idx"),
            # The age band filter reads `age` only for customers without a birth date.
            models.Index(fields=["age"], name="customer_age_idx", condition=Q(birth_date__isnull=True)),
            models.Index(fields=["birth_date"], name="customer_birth_date_idx", condition=Q(birth_date__isnull=False)),
            # The roster filter compares occupations case-insensitively (UPPER on both sides).
            models.Index(Upper("occupation"), name="customer_occupation_upper_idx"),
            # Few customers are missing at a time; the missing list reads only those.
            models.Index(fields=["missing_since"], name="customer_missing_idx", condition=Q(missing_since__isnull=False)),
            # A branch's, a client manager's or a tier's customers in the roster's default order,
            # so their first page reads a few index entries instead of sorting them all. Each one
            # replaces the single-column index of its foreign key, whose lookups its prefix serves.
            models.Index(fields=["branch", "customer_no"], name="customer_branch_no_idx"),
            models.Index(fields=["client_manager", "customer_no"], name="customer_manager_no_idx"),
            models.Index(fields=["tier", "customer_no"], name="customer_tier_no_idx"),
            # Figures by tier join a campaign's tasks to their customers' tiers. From this
            # index PostgreSQL reads each tier without the customer row: 52 instead of 117 ms
            # for 13,482 tasks among 1,000,000 customers. New ids come from a sequence, so an
            # import appends to the index's end (no measurable cost for 100,000 customers).
            # SQLite has no INCLUDE and gets a plain index on the id.
            models.Index(fields=["id"], include=["tier"], name="customer_id_tier_idx"),
        ]

    def __str__(self):
        return f"{self.name or self.customer_no} ({self.customer_no})"

    @property
    def current_age(self):
        if self.birth_date:
            today = timezone.localdate()
            before_birthday = (today.month, today.day) < (self.birth_date.month, self.birth_date.day)
            return today.year - self.birth_date.year - before_birthday
        return self.age


class RosterImport(models.Model):
    """One uploaded file and what happened to it: mapped, previewed, then committed or rejected."""

    class Kind(models.TextChoices):
        ROSTER = "roster", _("Roster")
        OUTCOMES = "outcomes", _("Past outcomes")

    class Status(models.TextChoices):
        UPLOADED = "uploaded", _("Uploaded")
        PREVIEWED = "previewed", _("Previewed")
        # Queued for or running in a Celery worker. The import's summary contains the progress.
        COMMITTING = "committing", _("Committing")
        COMMITTED = "committed", _("Committed")
        REJECTED = "rejected", _("Rejected")
        FAILED = "failed", _("Failed")

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.ROSTER)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.UPLOADED)
    file = models.FileField(_("file"), upload_to="imports/%Y/%m/")
    original_name = models.CharField(_("file name"), max_length=255)
    options = models.JSONField(_("options"), default=dict, blank=True)
    mapping = models.JSONField(_("column mapping"), default=dict, blank=True)
    summary = models.JSONField(_("summary"), default=dict, blank=True)
    errors = models.JSONField(_("row errors"), default=list, blank=True)
    # Empty for command-line imports run without --user and for scheduled folder imports.
    # Then options["source"] names the origin of the file.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("uploaded by"), on_delete=models.PROTECT, related_name="+",
        null=True, blank=True,
    )
    created_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("roster import")
        verbose_name_plural = _("roster imports")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.original_name} ({self.get_status_display()})"


class ImportProfile(models.Model):
    """A saved column mapping and reading options for the files of one source system, picked
    at upload. `mapping` maps folded headers (see header_normalize) to field names, so that
    stray spaces or full-width characters in next month's header still match."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    kind = models.CharField(
        _("kind"), max_length=20, choices=RosterImport.Kind.choices, default=RosterImport.Kind.ROSTER
    )
    mapping = models.JSONField(_("column mapping"), default=dict)
    options = models.JSONField(_("options"), default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("saved by"), on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("import profile")
        verbose_name_plural = _("import profiles")
        ordering = ["name"]

    def __str__(self):
        return self.name


class AumSnapshot(models.Model):
    """A customer's AUM and tier as one roster import stated them. One per customer and day:
    a later import on the same day replaces the snapshot."""

    # Every import writes one snapshot per customer, so the table keeps only the indexes that
    # its queries use. The unique (customer, taken_on) index also serves lookups by customer.
    # No query selects snapshots by date, tier or import; deleting a tier or an import scans
    # the table, which is rare.
    # No database constraint on the foreign keys: their row-by-row checks at commit took 0.75 s
    # for 100,000 snapshots. Only the import writes them, from ids of its own transaction, and
    # Django still applies on_delete.
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="aum_snapshots", db_index=False,
        db_constraint=False,
    )
    taken_on = models.DateField(_("date"))
    aum = models.DecimalField(_("AUM (CNY)"), max_digits=18, decimal_places=2)
    tier = models.ForeignKey(
        Tier, verbose_name=_("tier"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False,
        db_constraint=False,
    )
    roster_import = models.ForeignKey(
        RosterImport, verbose_name=_("roster import"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        db_index=False, db_constraint=False,
    )

    class Meta:
        verbose_name = _("AUM snapshot")
        verbose_name_plural = _("AUM snapshots")
        ordering = ["customer", "taken_on"]
        constraints = [models.UniqueConstraint(fields=["customer", "taken_on"], name="aum_snapshot_customer_day")]


class RosterChange(models.Model):
    """One line of the roster diff a committed import produces: a new customer, one missing
    from a complete roster, a tier change or an AUM drop above the import's threshold."""

    class Kind(models.TextChoices):
        NEW = "new", _("New customer")
        MISSING = "missing", _("Missing from this file")
        UPGRADE = "upgrade", _("Tier upgrade")
        DOWNGRADE = "downgrade", _("Tier downgrade")
        AUM_DROP = "aum_drop", _("AUM drop")

    # (roster_import, kind) serves lookups by import; nothing selects diff lines by tier.
    # No database constraint on the foreign keys, for the reason given on AumSnapshot: their
    # row-by-row checks at commit took 0.75 s for the 100,000 lines of a first import.
    roster_import = models.ForeignKey(
        RosterImport, verbose_name=_("roster import"), on_delete=models.CASCADE, null=True, blank=True,
        related_name="roster_changes", db_index=False, db_constraint=False,
    )
    taken_on = models.DateField(_("date"))
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="roster_changes",
        db_constraint=False,
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    aum_before = models.DecimalField(_("AUM before (CNY)"), max_digits=18, decimal_places=2, null=True, blank=True)
    aum_after = models.DecimalField(_("AUM after (CNY)"), max_digits=18, decimal_places=2, null=True, blank=True)
    tier_before = models.ForeignKey(
        Tier, verbose_name=_("tier before"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False,
        db_constraint=False,
    )
    tier_after = models.ForeignKey(
        Tier, verbose_name=_("tier after"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False,
        db_constraint=False,
    )

    class Meta:
        verbose_name = _("roster change")
        verbose_name_plural = _("roster changes")
        ordering = ["roster_import", "kind", "customer"]
        indexes = [models.Index(fields=["roster_import", "kind"], name="roster_change_import_kind_idx")]
