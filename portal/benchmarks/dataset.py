"""Generate the benchmark data set on PostgreSQL: a branch tree, staff, customers, campaigns,
follow-up tasks, contact records and holdout groups, written with COPY.

The data set is a pure function of its parameters and the seed, apart from its dates, which
are relative to the day of generation (tasks fall due over the year before and the weeks
after it). The parameters are stored in the table `bench_dataset`, so a second run with the
same parameters finds the data set and skips generation.

Every row is named bench_*: branch codes, usernames, customer numbers and campaign names.
Generation refuses to run on a database that contains anything else, and replaces the whole
content of the tables it writes, because only then can it truncate them instead of deleting
millions of rows one by one."""

import bisect
import datetime
import itertools
import json
import logging
import math
import random
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.utils import timezone

from campaigns.models import Campaign, Channel, ContactRecord, FollowUpTask, HeldOutCustomer, Outcome
from customers.imports.values import id_number_check_character
from customers.models import Branch, Customer, Tier
from portal.models import Role, User

logger = logging.getLogger(__name__)

PREFIX = "bench_"
# Bumped whenever the generator changes what it writes, so an older data set is regenerated.
GENERATOR_VERSION = 1
MARKER_TABLE = "bench_dataset"
DEFAULT_SEED = 20261205

# Customer numbers are PREFIX plus 8 digits, so "bench_000" selects the first 100,000.
CUSTOMER_NO_DIGITS = 8
PLATFORM_OPERATORS = 3

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN_NAMES = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀英", "华", "建国",
               "志强", "海燕", "丹", "玲", "桂英", "平", "刚", "红", "晨", "欣怡"]
CITIES = ["北京", "上海", "广州", "深圳", "杭州", "南京", "苏州", "成都", "武汉", "西安", "天津", "重庆", "长沙", "郑州", "青岛",
          "宁波", "厦门", "福州", "济南", "合肥", "沈阳", "大连", "昆明", "无锡", "佛山", "东莞", "哈尔滨", "长春", "石家庄", "南昌"]
# (value, weight) pairs: the shares of a wealth-management book as the generator assumes them.
OCCUPATIONS = [("企业主", 22), ("企业高管", 18), ("专业人士", 14), ("公务员", 6), ("教师", 5), ("医生", 6), ("退休", 15),
               ("个体工商户", 8), ("金融从业者", 4), ("自由职业", 2)]
MARITAL = [("married", 70), ("single", 15), ("divorced", 10), ("widowed", 5)]
EDUCATION = [("本科", 40), ("硕士", 22), ("大专", 18), ("高中", 12), ("博士", 8)]
RISK_LEVELS = [("R1", 10), ("R2", 25), ("R3", 35), ("R4", 20), ("R5", 10)]
OUTCOMES = [(Outcome.REACHED, 35), (Outcome.NOT_REACHABLE, 12), (Outcome.DECLINED, 15), (Outcome.INTERESTED, 20),
            (Outcome.CONVERTED, 18)]
CHANNELS = [(Channel.PHONE, 55), (Channel.WECHAT, 25), (Channel.VISIT, 10), (Channel.SMS, 5), (Channel.EMAIL, 5)]
THEMES = ["AUM retention", "Tier upgrade", "Pension planning", "Fund subscription", "Insurance review",
          "Maturity reinvestment", "Private banking referral", "Annual review", "Digital channel adoption",
          "Wealth seminar invitation"]
Status = FollowUpTask.Status


@dataclass(frozen=True)
class DatasetParameters:
    customers: int = 1_000_000
    tasks: int = 2_000_000
    campaigns: int = 200
    managers: int = 2_000
    branches: int = 300
    seed: int = DEFAULT_SEED

    def problems(self) -> list[str]:
        """Return why these parameters cannot make a data set, or nothing."""
        problems = []
        for name in ("customers", "campaigns", "managers", "branches"):
            if getattr(self, name) < 1:
                problems.append(f"--{name} must be at least 1, got {getattr(self, name)}")
        if self.tasks < 0:
            problems.append(f"--tasks must not be negative, got {self.tasks}")
        if self.customers >= 10**CUSTOMER_NO_DIGITS:
            problems.append(f"--customers must be below {10**CUSTOMER_NO_DIGITS:,}")
        # A campaign has at most one task per customer.
        if self.tasks > self.customers * self.campaigns:
            problems.append(
                f"--tasks {self.tasks} exceeds one task per customer per campaign ({self.customers} x {self.campaigns})"
            )
        return problems

    def as_marker(self) -> dict:
        return {**asdict(self), "generator_version": GENERATOR_VERSION}


class DatasetRefused(Exception):
    """Raised when the database cannot hold the benchmark data set."""


def customer_number(index: int) -> str:
    return f"{PREFIX}{index:0{CUSTOMER_NO_DIGITS}d}"


# The marker table


def marker_table_create(cursor) -> None:
    cursor.execute(
        f"CREATE TABLE IF NOT EXISTS {MARKER_TABLE} ("
        "name text PRIMARY KEY, parameters jsonb NOT NULL, counts jsonb NOT NULL, "
        "generated_on date NOT NULL, generated_at timestamptz NOT NULL, seconds double precision NOT NULL)"
    )


def marker_read() -> dict | None:
    """Return the stored description of the data set, or None when there is none."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [MARKER_TABLE])
        if cursor.fetchone()[0] is None:
            return None
        cursor.execute(f"SELECT parameters, counts, generated_on, generated_at, seconds FROM {MARKER_TABLE} WHERE name = 'default'")
        row = cursor.fetchone()
    if row is None:
        return None
    parameters, counts, generated_on, generated_at, seconds = row
    if isinstance(parameters, str):
        parameters, counts = json.loads(parameters), json.loads(counts)
    return {
        "parameters": parameters, "counts": counts, "generated_on": generated_on.isoformat(),
        "generated_at": generated_at.isoformat(), "seconds": seconds,
    }


def dataset_is_current(parameters: DatasetParameters) -> bool:
    """Return whether the database contains the data set of `parameters`, unchanged in size."""
    marker = marker_read()
    if marker is None or marker["parameters"] != parameters.as_marker():
        return False
    return (
        Customer.objects.count() == parameters.customers
        and FollowUpTask.objects.count() == marker["counts"]["tasks"]
    )


# Safety checks


def database_check() -> None:
    """Raise DatasetRefused unless the database is PostgreSQL and contains only benchmark data."""
    if connection.vendor != "postgresql":
        raise DatasetRefused(
            f"The benchmark data set needs PostgreSQL, but the database is {connection.vendor}. "
            "Set DATABASE_URL to a PostgreSQL database of its own, e.g. postgres://127.0.0.1/bench_data."
        )
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    unapplied = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if unapplied:
        names = ", ".join(f"{migration.app_label}.{migration.name}" for migration, _backwards in unapplied[:5])
        raise DatasetRefused(f"The database has {len(unapplied)} unapplied migrations ({names}): run manage.py migrate first.")
    foreign = {
        "customers": Customer.objects.exclude(customer_no__startswith=PREFIX).count(),
        "users": User.objects.exclude(username__startswith=PREFIX).count(),
        "branches": Branch.objects.exclude(code__startswith=PREFIX).count(),
        "campaigns": Campaign.objects.exclude(name__startswith=PREFIX).count(),
    }
    foreign = {name: count for name, count in foreign.items() if count}
    if foreign:
        found = ", ".join(f"{count} {name}" for name, count in foreign.items())
        raise DatasetRefused(
            f"The database contains data that is not benchmark data ({found} not named {PREFIX}*). "
            "The data set replaces whole tables, so it only runs on a database of its own."
        )


# COPY


def ids_reserve(cursor, model, count: int) -> list[int]:
    """Take `count` ids from the sequence of `model`'s table, so rows that refer to each other
    can be copied without reading ids back."""
    if count == 0:
        return []
    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [model._meta.db_table])
    sequence = cursor.fetchone()[0]
    cursor.execute("SELECT nextval(%s::regclass) FROM generate_series(1, %s)", [sequence, count])
    return [row[0] for row in cursor.fetchall()]


def rows_copy(cursor, model, attnames: list[str], rows: Iterable[tuple]) -> int:
    """COPY `rows` (values in the order of `attnames`) into `model`'s table and return their number.

    Columns the caller does not name get the field's default, so a field added to the model
    later does not break generation as long as it has a default or is nullable."""
    meta = model._meta
    named = set(attnames)
    rest = [model_field for model_field in meta.concrete_fields if model_field.attname not in named]
    constants = tuple(_copy_value(model_field.get_default()) for model_field in rest)
    columns = [_column(meta, name) for name in attnames]
    columns += [model_field.column for model_field in rest]
    quote = connection.ops.quote_name
    sql = f"COPY {quote(meta.db_table)} ({', '.join(quote(column) for column in columns)}) FROM STDIN"
    count = 0
    with cursor.copy(sql) as copy:
        if constants:
            for row in rows:
                copy.write_row((*row, *constants))
                count += 1
        else:
            for row in rows:
                copy.write_row(row)
                count += 1
    return count


def _column(meta, attname: str) -> str:
    for model_field in meta.concrete_fields:
        if model_field.attname == attname:
            return model_field.column
    raise ValueError(f"{meta.label} has no field {attname!r}")


def _copy_value(value):
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return value


# Generation


def dataset_generate(parameters: DatasetParameters, *, log=print) -> dict:
    """Replace the benchmark tables' content with the data set of `parameters` and return the
    number of rows written per kind. Runs in one transaction, then ANALYZE."""
    problems = parameters.problems()
    if problems:
        raise ValueError("; ".join(problems))
    database_check()
    started = time.perf_counter()
    today = timezone.localdate()
    with transaction.atomic(), connection.cursor() as django_cursor:
        cursor = django_cursor.cursor  # the psycopg 3 cursor under Django's wrapper, for COPY
        tables_truncate(cursor)
        generator = Generator(parameters=parameters, cursor=cursor, today=today, log=log)
        counts = generator.run()
        marker_table_create(cursor)
        cursor.execute(f"DELETE FROM {MARKER_TABLE}")
        cursor.execute(
            f"INSERT INTO {MARKER_TABLE} (name, parameters, counts, generated_on, generated_at, seconds) "
            "VALUES ('default', %s, %s, %s, now(), %s)",
            [json.dumps(parameters.as_marker()), json.dumps(counts), today, time.perf_counter() - started],
        )
    log("ANALYZE")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
        counts["seconds"] = round(time.perf_counter() - started, 1)
        # The time stored above ended before the commit, which checks the deferred foreign keys.
        cursor.execute(f"UPDATE {MARKER_TABLE} SET seconds = %s WHERE name = 'default'", [counts["seconds"]])
    return counts


def tables_truncate(cursor) -> None:
    """Empty every table the generator writes, and with CASCADE the tables that refer to them
    (audit trail, reminder ledger, export log and the like). database_check has made sure that
    they contain benchmark data only."""
    tables = [User, Branch, Customer, Campaign, FollowUpTask, ContactRecord, HeldOutCustomer]
    names = ", ".join(connection.ops.quote_name(model._meta.db_table) for model in tables)
    # TRUNCATE fails while deferred foreign-key checks are pending, which happens when an outer
    # transaction (a test) has written to these tables: check them now, then defer again.
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    cursor.execute(f"TRUNCATE {names} CASCADE")
    cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def weighted(rng: random.Random, pairs):
    """Return a function that draws one value of (value, weight) `pairs`."""
    values = [value for value, _weight in pairs]
    cumulative = list(itertools.accumulate(weight for _value, weight in pairs))
    total = cumulative[-1]

    def draw():
        return values[bisect.bisect_right(cumulative, rng.random() * total)]

    return draw


def shares_split(total: int, weights: list[float], cap: int) -> list[int]:
    """Split `total` into integers proportional to `weights`, none above `cap` (largest remainder)."""
    counts = [0] * len(weights)
    remaining = total
    open_indexes = [index for index, weight in enumerate(weights) if weight > 0]
    while remaining > 0 and open_indexes:
        weight_sum = sum(weights[index] for index in open_indexes)
        exact = {index: remaining * weights[index] / weight_sum for index in open_indexes}
        added = 0
        for index in open_indexes:
            share = min(int(exact[index]), cap - counts[index])
            counts[index] += share
            added += share
        left = remaining - added
        by_remainder = sorted(open_indexes, key=lambda index: exact[index] - int(exact[index]), reverse=True)
        for index in by_remainder:
            if left == 0:
                break
            if counts[index] < cap:
                counts[index] += 1
                left -= 1
        remaining = left
        open_indexes = [index for index in open_indexes if counts[index] < cap]
    return counts


class Generator:
    """Writes one data set. Kept as one object because the tables refer to each other's ids."""

    def __init__(self, *, parameters: DatasetParameters, cursor, today: datetime.date, log):
        self.parameters = parameters
        self.cursor = cursor
        self.today = today
        self.log = log
        self.rng = random.Random(parameters.seed)
        self.now = timezone.now()
        self.tz = timezone.get_current_timezone()
        self.counts: dict[str, int] = {}

    def run(self) -> dict:
        self.branches_write()
        self.users_write()
        self.customers_write()
        self.campaigns_write()
        self.tasks_write()
        return self.counts

    def step(self, name: str, count: int, started: float) -> None:
        self.counts[name] = count
        self.log(f"{name}: {count:,} rows in {time.perf_counter() - started:.1f} s")

    # Branches: head office, branches below it, sub-branches below those.

    def branches_write(self) -> None:
        started = time.perf_counter()
        total = self.parameters.branches
        main_count = 0 if total == 1 else max(1, round((total - 1) / 10))
        sub_count = total - 1 - main_count
        ids = ids_reserve(self.cursor, Branch, total)
        self.head_office = ids[0]
        self.main_branches = ids[1:1 + main_count]
        self.sub_branches = ids[1 + main_count:]
        # Supervisors head every branch and sub-branch; their ids are reserved now so the
        # branch rows can name them (foreign keys are checked at commit).
        self.supervisor_ids = ids_reserve(self.cursor, User, main_count + sub_count)
        self.branch_supervisor = dict(zip(self.main_branches + self.sub_branches, self.supervisor_ids))
        self.branch_parent = {}
        rows = [(self.head_office, f"{PREFIX}HO", "总行", Branch.Level.HEAD_OFFICE, None, f"/{self.head_office}/", None)]
        self.branch_path = {self.head_office: f"/{self.head_office}/"}
        for number, branch_id in enumerate(self.main_branches):
            city = CITIES[number % len(CITIES)] + ("" if number < len(CITIES) else str(number // len(CITIES) + 1))
            path = f"/{self.head_office}/{branch_id}/"
            self.branch_path[branch_id] = path
            self.branch_parent[branch_id] = self.head_office
            rows.append((branch_id, f"{PREFIX}B{number + 1:04d}", f"{city}分行", Branch.Level.BRANCH, self.head_office,
                         path, self.branch_supervisor[branch_id]))
        for number, branch_id in enumerate(self.sub_branches):
            parent = self.main_branches[self.rng.randrange(len(self.main_branches))]
            path = f"{self.branch_path[parent]}{branch_id}/"
            self.branch_path[branch_id] = path
            self.branch_parent[branch_id] = parent
            rows.append((branch_id, f"{PREFIX}S{number + 1:05d}", f"第{number + 1}支行", Branch.Level.SUB_BRANCH, parent,
                         path, self.branch_supervisor[branch_id]))
        count = rows_copy(self.cursor, Branch, ["id", "code", "name", "level", "parent_id", "path", "head_id"], rows)
        self.step("branches", count, started)

    # Staff

    def users_write(self) -> None:
        started = time.perf_counter()
        parameters = self.parameters
        # Client managers work in sub-branches (and in branches where there are none); a
        # branch's size varies as a log-normal weight.
        work_branches = self.sub_branches or self.main_branches or [self.head_office]
        branch_weights = [self.rng.lognormvariate(0, 0.6) for _branch in work_branches]
        manager_branch_index = self.rng.choices(range(len(work_branches)), weights=branch_weights, k=parameters.managers)
        manager_ids = ids_reserve(self.cursor, User, parameters.managers)
        platform_ids = ids_reserve(self.cursor, User, PLATFORM_OPERATORS + 1)
        self.admin_id, self.platform_ids = platform_ids[0], platform_ids[1:]
        self.manager_ids = manager_ids
        self.manager_branch = {
            manager_id: work_branches[index] for manager_id, index in zip(manager_ids, manager_branch_index)
        }
        # Book sizes vary too: the weight decides each manager's share of the customers.
        self.manager_weights = [self.rng.lognormvariate(0, 0.5) for _manager in manager_ids]
        weight_sum = sum(self.manager_weights)
        tasks_per_weight = parameters.tasks / weight_sum if weight_sum else 0
        password = make_password(None)
        joined = self.now - datetime.timedelta(days=800)
        columns = ["id", "password", "is_superuser", "username", "first_name", "last_name", "email", "is_staff",
                   "is_active", "date_joined", "role", "branch_id", "supervisor_id", "language", "receive_digest",
                   "amount_in_wan", "capacity"]

        def person(rng):
            return rng.choice(GIVEN_NAMES), rng.choice(SURNAMES)

        def rows():
            rng = self.rng
            yield (self.admin_id, password, True, f"{PREFIX}admin", "管理员", "系统", "admin@bench.example", True, True,
                   joined, Role.ADMINISTRATOR, self.head_office, None, "en", False, False, 100)
            for number, user_id in enumerate(self.platform_ids, start=1):
                first, last = person(rng)
                yield (user_id, password, False, f"{PREFIX}platform_{number:02d}", first, last,
                       f"platform_{number:02d}@bench.example", False, True, joined, Role.PLATFORM, self.head_office,
                       None, "zh-hans", False, False, 100)
            for number, (branch_id, user_id) in enumerate(self.branch_supervisor.items(), start=1):
                first, last = person(rng)
                yield (user_id, password, False, f"{PREFIX}sup_{number:04d}", first, last,
                       f"sup_{number:04d}@bench.example", False, True, joined, Role.SUPERVISOR, branch_id, None,
                       "zh-hans" if rng.random() < 0.7 else "en", True, False, 100)
            for number, (user_id, weight) in enumerate(zip(manager_ids, self.manager_weights), start=1):
                first, last = person(rng)
                branch_id = self.manager_branch[user_id]
                # Capacity about twice the open work the manager's share of tasks leaves open,
                # so balanced assignment has room, as a planner would set it.
                capacity = max(100, int(weight * tasks_per_weight * 0.5) // 10 * 10)
                yield (user_id, password, False, f"{PREFIX}cm_{number:05d}", first, last,
                       f"cm_{number:05d}@bench.example", False, True, joined, Role.CLIENT_MANAGER, branch_id,
                       self.branch_supervisor.get(branch_id), "zh-hans" if rng.random() < 0.7 else "en",
                       rng.random() < 0.95, rng.random() < 0.3, capacity)

        count = rows_copy(self.cursor, User, columns, rows())
        self.step("users", count, started)

    # Customers

    def customers_write(self) -> None:
        started = time.perf_counter()
        rng = self.rng
        parameters = self.parameters
        tiers = list(Tier.objects.order_by("min_aum").values_list("min_aum", "id"))
        tier_floors = [float(min_aum) for min_aum, _id in tiers]
        tier_ids = [tier_id for _min_aum, tier_id in tiers]
        ids = ids_reserve(self.cursor, Customer, parameters.customers)
        self.customer_ids = ids
        # 2% of the roster has no client manager: new customers not yet assigned.
        manager_cumulative = list(itertools.accumulate(self.manager_weights))
        manager_total = manager_cumulative[-1]
        all_work_branches = self.sub_branches or self.main_branches or [self.head_office]
        self.customer_manager = [None] * parameters.customers
        self.customer_branch = [0] * parameters.customers
        occupation = weighted(rng, OCCUPATIONS)
        marital = weighted(rng, MARITAL)
        education = weighted(rng, EDUCATION)
        risk = weighted(rng, RISK_LEVELS)
        created = self.now - datetime.timedelta(days=400)
        columns = ["id", "customer_no", "name", "gender", "birth_date", "age", "phone", "email", "id_number", "occupation",
                   "marital_status", "education", "credit_default", "housing_loan", "personal_loan", "branch_id",
                   "client_manager_id", "aum", "tier_id", "risk_level", "do_not_contact", "missing_since", "extra",
                   "created_at", "updated_at"]
        today = self.today

        def rows():
            for index, customer_id in enumerate(ids):
                if rng.random() < 0.02:
                    manager_id = None
                    branch_id = all_work_branches[rng.randrange(len(all_work_branches))]
                else:
                    manager_id = self.manager_ids[bisect.bisect_right(manager_cumulative, rng.random() * manager_total)]
                    branch_id = self.manager_branch[manager_id]
                self.customer_manager[index] = manager_id
                self.customer_branch[index] = branch_id
                age = min(88, max(22, int(rng.gauss(50, 12))))
                birth = today - datetime.timedelta(days=age * 365 + rng.randrange(365))
                # Log-normal AUM above a floor: median about 950,000 CNY, 1 in 5,000 above 30 million.
                aum = round(350_000 + rng.lognormvariate(math.log(600_000), 1.1), 2)
                tier_position = bisect.bisect_right(tier_floors, aum)
                first_17 = f"{110101 + rng.randrange(900):06d}{birth:%Y%m%d}{rng.randrange(1000):03d}"
                gender = "M" if rng.random() < 0.52 else "F"
                yield (
                    customer_id, customer_number(index), rng.choice(SURNAMES) + rng.choice(GIVEN_NAMES), gender, birth,
                    None, f"13{rng.randrange(10**9):09d}", "", first_17 + id_number_check_character(first_17),
                    occupation(), marital(), education(), rng.random() < 0.01, rng.random() < 0.35,
                    rng.random() < 0.15, branch_id, manager_id, f"{aum:.2f}",
                    tier_ids[tier_position - 1] if tier_position else None, risk(), rng.random() < 0.015,
                    None, "{}", created, created,
                )

        count = rows_copy(self.cursor, Customer, columns, rows())
        self.step("customers", count, started)

    # Campaigns

    def campaigns_write(self) -> None:
        started = time.perf_counter()
        rng = self.rng
        parameters = self.parameters
        ids = ids_reserve(self.cursor, Campaign, parameters.campaigns)
        drafts = parameters.campaigns // 50
        self.campaigns = []
        for number, campaign_id in enumerate(ids):
            # Drafts have no tasks, so there are none when the tasks need every campaign.
            is_draft = number >= parameters.campaigns - drafts and (
                parameters.tasks <= parameters.customers * (parameters.campaigns - drafts)
            )
            if is_draft:
                starts_on = self.today + datetime.timedelta(days=rng.randint(3, 30))
            else:
                # Campaigns start over the past year and the next week or two.
                starts_on = self.today - datetime.timedelta(days=rng.randint(-14, 365))
            due_on = starts_on + datetime.timedelta(days=rng.choice([14, 21, 30, 45, 60]))
            if is_draft:
                status = Campaign.Status.DRAFT
            elif due_on < self.today - datetime.timedelta(days=14):
                status = Campaign.Status.COMPLETED
            else:
                status = Campaign.Status.ACTIVE
            self.campaigns.append({
                "id": campaign_id, "number": number + 1, "starts_on": starts_on, "due_on": due_on, "status": status,
                "holdout": 10 if rng.random() < 0.2 and not is_draft else 0,
                "owner": self.platform_ids[number % len(self.platform_ids)],
                "theme": THEMES[number % len(THEMES)],
                "sample": rng.choice([20, 50, 100]),
            })
        columns = ["id", "name", "objective", "talking_points", "owner_id", "status", "starts_on", "due_on",
                   "fallback_branch_id", "holdout_percent", "pool_include_sub_branches", "verification_sample_percent",
                   "launch_summary", "launched_at", "launched_by_id", "created_at"]

        def rows():
            for campaign in self.campaigns:
                launched = campaign["status"] != Campaign.Status.DRAFT
                launched_at = self.at(campaign["starts_on"], hour=9) if launched else None
                yield (
                    campaign["id"], f"{PREFIX}{campaign['number']:04d} {campaign['theme']}",
                    f"{campaign['theme']} for the generated roster", "", campaign["owner"], campaign["status"],
                    campaign["starts_on"], campaign["due_on"], self.head_office, campaign["holdout"], True,
                    campaign["sample"], "{}", launched_at, campaign["owner"] if launched else None,
                    self.at(campaign["starts_on"] - datetime.timedelta(days=7), hour=10),
                )

        count = rows_copy(self.cursor, Campaign, columns, rows())
        self.step("campaigns", count, started)

    def at(self, day: datetime.date, *, hour: int, minute: int = 0) -> datetime.datetime:
        return datetime.datetime(day.year, day.month, day.day, hour, minute, tzinfo=self.tz)

    # Tasks, contact records and holdout groups

    def tasks_write(self) -> None:
        started = time.perf_counter()
        rng = self.rng
        parameters = self.parameters
        launched = [campaign for campaign in self.campaigns if campaign["status"] != Campaign.Status.DRAFT]
        sizes = shares_split(
            parameters.tasks, [rng.lognormvariate(0, 0.7) for _campaign in launched], cap=parameters.customers
        )
        task_ids = iter(ids_reserve(self.cursor, FollowUpTask, parameters.tasks))
        contacts = []
        held_out = []
        task_columns = ["id", "campaign_id", "customer_id", "assignee_id", "branch_id", "status", "due_on", "channel",
                        "outcome", "next_follow_up_on", "return_reason", "sampled_for_verification", "version",
                        "created_at", "completed_at", "verified_at", "verified_by_id"]
        outcome = weighted(rng, OUTCOMES)
        channel = weighted(rng, CHANNELS)
        managers = self.manager_ids

        def rows():
            for campaign, size in zip(launched, sizes):
                if size == 0:
                    continue
                hold = 0
                if campaign["holdout"]:
                    hold = min(parameters.customers - size, size * campaign["holdout"] // (100 - campaign["holdout"]))
                chosen = rng.sample(range(parameters.customers), size + hold)
                created_at = self.at(campaign["starts_on"], hour=9)
                held_out.extend((campaign["id"], self.customer_ids[index], created_at) for index in chosen[size:])
                status_draw = self.status_weights(campaign)
                for index in chosen[:size]:
                    task_id = next(task_ids)
                    assignee = self.customer_manager[index] or managers[rng.randrange(len(managers))]
                    due_on = campaign["due_on"]
                    if rng.random() < 0.2:
                        due_on += datetime.timedelta(days=rng.randint(-10, 10))
                    status = status_draw()
                    task_outcome = task_channel = ""
                    completed_at = verified_at = verified_by = sampled = next_follow_up = None
                    version = 1
                    return_reason = ""
                    if status in (Status.DONE, Status.VERIFIED, Status.RETURNED):
                        task_outcome, task_channel = outcome(), channel()
                        # Most work is done before the due date; 15% comes up to ten days late.
                        latest = min(self.today, due_on + datetime.timedelta(days=10 if rng.random() < 0.15 else 0))
                        span = max(0, (latest - campaign["starts_on"]).days)
                        completed_day = campaign["starts_on"] + datetime.timedelta(days=rng.randint(0, span))
                        completed_at = self.at(completed_day, hour=rng.randint(9, 18), minute=rng.randint(0, 59))
                        sampled = rng.random() * 100 < campaign["sample"]
                        version = 2
                        if status == Status.VERIFIED:
                            verified_day = min(self.today, completed_day + datetime.timedelta(days=rng.randint(1, 5)))
                            verified_at = self.at(verified_day, hour=rng.randint(9, 18))
                            verified_by = self.platform_ids[rng.randrange(len(self.platform_ids))] if sampled else None
                            version = 3
                        elif status == Status.DONE:
                            sampled = True
                        else:
                            return_reason = "Contact note incomplete"
                            version = 3
                        if task_outcome == Outcome.INTERESTED and rng.random() < 0.6:
                            next_follow_up = completed_day + datetime.timedelta(days=14)
                        contacts.append((task_id, self.customer_ids[index], assignee, task_channel, task_outcome,
                                         next_follow_up, completed_at))
                    elif status == Status.IN_PROGRESS:
                        # An attempt that did not reach the customer.
                        task_channel = Channel.PHONE
                        version = 2
                        span = max(0, (min(self.today, due_on) - campaign["starts_on"]).days)
                        attempt_day = campaign["starts_on"] + datetime.timedelta(days=rng.randint(0, span))
                        contacts.append((task_id, self.customer_ids[index], assignee, task_channel,
                                         Outcome.NOT_REACHABLE, None, self.at(attempt_day, hour=rng.randint(9, 18))))
                    yield (
                        task_id, campaign["id"], self.customer_ids[index], assignee, self.manager_branch[assignee],
                        status, due_on, task_channel, task_outcome, next_follow_up, return_reason, sampled, version,
                        created_at, completed_at, verified_at, verified_by,
                    )

        count = rows_copy(self.cursor, FollowUpTask, task_columns, rows())
        self.step("tasks", count, started)

        started = time.perf_counter()
        contact_ids = ids_reserve(self.cursor, ContactRecord, len(contacts))
        count = rows_copy(
            self.cursor, ContactRecord,
            ["id", "task_id", "customer_id", "recorded_by_id", "channel", "outcome", "next_follow_up_on", "contacted_at"],
            ((contact_id, *contact) for contact_id, contact in zip(contact_ids, contacts)),
        )
        self.step("contact records", count, started)

        started = time.perf_counter()
        held_out_ids = ids_reserve(self.cursor, HeldOutCustomer, len(held_out))
        count = rows_copy(
            self.cursor, HeldOutCustomer, ["id", "campaign_id", "customer_id", "created_at"],
            ((row_id, *row) for row_id, row in zip(held_out_ids, held_out)),
        )
        self.step("held-out customers", count, started)

    def status_weights(self, campaign: dict):
        """Return a draw of task statuses for a campaign at its point in time: a finished
        campaign has mostly verified work and some overdue tasks left open, a running one
        has progressed in proportion to the time elapsed."""
        if campaign["status"] == Campaign.Status.COMPLETED:
            pairs = [(Status.VERIFIED, 58), (Status.DONE, 8), (Status.CANCELLED, 6), (Status.RETURNED, 2),
                     (Status.OPEN, 18), (Status.IN_PROGRESS, 8)]
        else:
            duration = max(1, (campaign["due_on"] - campaign["starts_on"]).days)
            progress = min(1.0, max(0.0, (self.today - campaign["starts_on"]).days / duration))
            pairs = [(Status.VERIFIED, 35 * progress), (Status.DONE, 25 * progress), (Status.CANCELLED, 3),
                     (Status.RETURNED, 2 * progress), (Status.IN_PROGRESS, 5 + 15 * progress),
                     (Status.OPEN, max(5.0, 95 - 77 * progress))]
        return weighted(self.rng, pairs)
