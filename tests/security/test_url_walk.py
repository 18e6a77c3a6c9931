"""Walk every URL of the portal as every role and check that only the allowed roles get in.

How to read and extend the ACCESS table
---------------------------------------
ACCESS maps each URL name, as passed to reverse() ("namespace:name"), to one Case or a list of
Cases. Each Case is one request, and its `allowed` set names the roles that may make it:

    "campaigns:task_verify": Case(PLATFORM_ONLY, method="POST", target="task_done"),

- allowed: keys of ROLES. An allowed role must get a 2xx or 3xx response. Every other signed-in
  role must get 403 or 404. An anonymous request must be redirected to the sign-in page, unless
  ANONYMOUS is in `allowed` (pages that need no sign-in).
- method: "GET" for pages and downloads, "POST" for actions. POSTs carry a valid CSRF token and
  the test client enforces CSRF checks, so a 403 is never a CSRF failure in disguise.
- target: the `world` fixture key of the object whose pk fills the URL's <pk>. Every such object
  belongs to branch A, so SUPERVISOR_OTHER and CLIENT_MANAGER_OTHER, who work in branch B, are
  outsiders to it.
- kwargs: other URL arguments. query: a query string, such as "_export=csv" for an export.
  data: the POST data, valid where an allowed role should get through. A TargetField("name")
  value is replaced by that field of the target object. htmx: send the HX-Request header as
  htmx does for a partial.

A URL name without an entry fails test_every_url_has_an_entry with its name, so a new URL gets
a line here before it can pass. Helper sets (SIGNED_IN, STAFF, BRANCH_A, ...) cover the usual
cases. Responses that outsiders and the administrator may open must not contain the branch-A
customer's name, number, phone, ID number or e-mail.

The Django admin (namespace "admin") is not in the table: Django lets only users with is_staff
in, so test_admin_only_for_staff checks that every admin URL redirects every other user to a
sign-in page and that the administrator opens each model's list."""

import datetime
import re
from dataclasses import dataclass, field
from http import HTTPStatus
from io import BytesIO

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpResponse
from django.middleware.csrf import _get_new_csrf_string, _mask_cipher_secret
from django.shortcuts import resolve_url
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from openpyxl import load_workbook

from campaigns.models import Campaign, FollowUpTask
from customers.imports.services import roster_import_create
from portal.models import ExportLog, Leave, SavedFilter
from tests.factories import CampaignFactory, CustomerFactory, SegmentFactory, TaskFactory

pytestmark = pytest.mark.django_db

ANONYMOUS = "anonymous"
PLATFORM = "platform"
ADMINISTRATOR = "administrator"
SUPERVISOR = "supervisor"
CLIENT_MANAGER = "client_manager"
SUPERVISOR_OTHER = "supervisor_other"
CLIENT_MANAGER_OTHER = "client_manager_other"

# Each role and the `users` fixture key of the user who plays it; None is anonymous.
ROLES = {
    ANONYMOUS: None,
    PLATFORM: "platform",
    ADMINISTRATOR: "admin",
    SUPERVISOR: "supervisor_a",
    CLIENT_MANAGER: "manager_a",
    SUPERVISOR_OTHER: "supervisor_b",
    CLIENT_MANAGER_OTHER: "manager_b",
}

PLATFORM_ONLY = frozenset({PLATFORM})
SIGNED_IN = frozenset(ROLES) - {ANONYMOUS}
EVERYONE = frozenset(ROLES)
# List pages of the staff who work with customers. Each of them gets only the rows in their scope.
STAFF = frozenset({PLATFORM, SUPERVISOR, CLIENT_MANAGER, SUPERVISOR_OTHER, CLIENT_MANAGER_OTHER})
SUPERVISING = frozenset({PLATFORM, SUPERVISOR, SUPERVISOR_OTHER})
CLIENT_MANAGERS = frozenset({CLIENT_MANAGER, CLIENT_MANAGER_OTHER})
# An object of branch A: the platform, branch A's supervisor and the customer's client manager.
BRANCH_A = frozenset({PLATFORM, SUPERVISOR, CLIENT_MANAGER})
SUPERVISING_A = frozenset({PLATFORM, SUPERVISOR})

# Roles whose allowed responses are searched for the branch-A customer's data.
LEAK_CHECKED = frozenset({ANONYMOUS, ADMINISTRATOR, SUPERVISOR_OTHER, CLIENT_MANAGER_OTHER})


@dataclass(frozen=True)
class Case:
    allowed: frozenset
    method: str = "GET"
    target: str | None = None
    kwargs: dict = field(default_factory=dict)
    query: str = ""
    data: dict = field(default_factory=dict)
    htmx: bool = False
    # The page may show the customer number, which identifies a record without being personal
    # data (the audit log names the records it lists). Name, phone, ID number and e-mail stay checked.
    shows_customer_number: bool = False


@dataclass(frozen=True)
class TargetField:
    """A POST value read from the target object when the request is made, e.g. its version."""

    name: str


CONTACT = {"channel": "phone", "outcome": "reached", "note": "Called about the review", "version": TargetField("version")}

ACCESS = {
    # Sign-in, language and health need no sign-in.
    "home": Case(SIGNED_IN),
    "login": Case(EVERYONE),
    "logout": Case(SIGNED_IN, method="POST"),
    "language_switch": Case(EVERYONE, method="POST", data={"language": "en", "next": "/"}),
    "health": Case(EVERYONE),
    # Roster
    "customers:list": [
        Case(STAFF),
        Case(STAFF, query="_export=csv"),
        Case(STAFF, query="_export=xlsx"),
    ],
    "customers:detail": Case(BRANCH_A, target="customer"),
    "customers:reveal": [
        Case(frozenset({PLATFORM, CLIENT_MANAGER}), method="POST", target="customer", kwargs={"field": "phone"}, htmx=True),
        Case(frozenset({PLATFORM, CLIENT_MANAGER}), method="POST", target="customer", kwargs={"field": "email"}, htmx=True),
        Case(PLATFORM_ONLY, method="POST", target="customer", kwargs={"field": "id_number"}, htmx=True),
    ],
    "customers:customer_aum_trend": Case(BRANCH_A, target="customer"),
    # Roster imports are platform work.
    "customers:import_list": Case(PLATFORM_ONLY),
    "customers:import_upload": [Case(PLATFORM_ONLY), Case(PLATFORM_ONLY, method="POST")],
    "customers:import_detail": Case(PLATFORM_ONLY, target="roster_import"),
    "customers:import_mapping": [
        Case(PLATFORM_ONLY, target="roster_import"),
        Case(PLATFORM_ONLY, method="POST", target="roster_import"),
    ],
    "customers:import_commit": Case(PLATFORM_ONLY, method="POST", target="roster_import"),
    "customers:import_reject": Case(PLATFORM_ONLY, method="POST", target="roster_import"),
    "customers:import_progress": Case(PLATFORM_ONLY, target="roster_import", htmx=True),
    "customers:import_errors_download": Case(PLATFORM_ONLY, target="roster_import"),
    "customers:import_changes": Case(PLATFORM_ONLY, target="roster_import", kwargs={"kind": "new"}),
    "customers:import_changes_segment": Case(PLATFORM_ONLY, method="POST", target="roster_import", kwargs={"kind": "new"}),
    # Campaigns and segments
    "campaigns:list": Case(STAFF),
    "campaigns:create": [Case(PLATFORM_ONLY), Case(PLATFORM_ONLY, method="POST")],
    "campaigns:detail": Case(BRANCH_A, target="campaign"),
    "campaigns:update": [
        Case(PLATFORM_ONLY, target="campaign_draft"),
        Case(PLATFORM_ONLY, method="POST", target="campaign_draft"),
    ],
    "campaigns:launch": [
        Case(PLATFORM_ONLY, target="campaign_draft"),
        Case(PLATFORM_ONLY, method="POST", target="campaign_draft"),
    ],
    "campaigns:launch_progress": Case(PLATFORM_ONLY, target="campaign", htmx=True),
    "campaigns:complete": Case(PLATFORM_ONLY, method="POST", target="campaign"),
    "campaigns:segment_list": Case(PLATFORM_ONLY),
    "campaigns:next_version": Case(PLATFORM_ONLY, target="campaign"),
    "campaigns:versions": Case(PLATFORM_ONLY, target="campaign"),
    "campaigns:leave_list": [Case(SUPERVISING), Case(SUPERVISING, query="_export=csv")],
    "campaigns:leave_remove": Case(SUPERVISING_A, method="POST", target="leave"),
    "campaigns:segment_create": [
        Case(PLATFORM_ONLY, query="occupation=management"),
        Case(PLATFORM_ONLY, method="POST", query="occupation=management", data={"name": "Managers"}),
    ],
    # Tasks
    "campaigns:task_list": [
        Case(SUPERVISING),
        Case(SUPERVISING, query="_export=csv"),
        Case(SUPERVISING, query="_export=xlsx"),
    ],
    "campaigns:my_tasks": Case(CLIENT_MANAGERS),
    "campaigns:task_detail": Case(BRANCH_A, target="task"),
    "campaigns:task_record_contact": Case(frozenset({CLIENT_MANAGER}), method="POST", target="task", data=CONTACT),
    "campaigns:task_verify": Case(PLATFORM_ONLY, method="POST", target="task_done", data={"version": TargetField("version")}),
    "campaigns:task_bulk": [
        Case(SUPERVISING),
        Case(SUPERVISING, method="POST", data={"action": "extend", "due_on": "2099-01-01", "reason": "Walk", "snapshot": "1:1"}),
    ],
    "campaigns:verification_queue": [Case(PLATFORM_ONLY), Case(PLATFORM_ONLY, query="_export=csv")],
    "campaigns:handover_list": [Case(PLATFORM_ONLY), Case(PLATFORM_ONLY, query="_export=xlsx")],
    "campaigns:handover_detail": [
        Case(PLATFORM_ONLY, target="leaver"),
        Case(PLATFORM_ONLY, method="POST", target="leaver", data={"fingerprint": "0"}),
    ],
    "campaigns:task_return": Case(PLATFORM_ONLY, method="POST", target="task_done", data={"reason": "No note", "version": TargetField("version")}),
    # Dashboard
    "dashboard:index": [
        Case(STAFF),
        Case(STAFF, query="_export=csv&table=campaign"),
        Case(STAFF, query="_export=xlsx&table=tier"),
    ],
    "dashboard:next_campaign_analysis": [
        Case(SUPERVISING),
        Case(SUPERVISING, query="_export=csv&table=roster_tier"),
        Case(SUPERVISING, query="_export=xlsx&table=response_occupation"),
    ],
    "dashboard:segment_from_analysis": Case(
        PLATFORM_ONLY, method="POST", data={"dimension": "occupation", "key": "management", "label": "Managers"}
    ),
    "dashboard:export_log": Case(PLATFORM_ONLY),
    # A background export's pages exist only for the user who asked for it.
    "dashboard:export_file": Case(frozenset({CLIENT_MANAGER}), target="export_file"),
    "dashboard:export_file_progress": Case(frozenset({CLIENT_MANAGER}), target="export_file", htmx=True),
    "dashboard:export_file_download": Case(frozenset({CLIENT_MANAGER}), target="export_file"),
    "dashboard:saved_filter_create": Case(
        STAFF, method="POST", data={"name": "Walk", "page": "customers:list", "query_string": "q=C"}
    ),
    # A saved filter is its owner's alone, even for the platform.
    "dashboard:saved_filter_delete": Case(frozenset({CLIENT_MANAGER}), method="POST", target="saved_filter"),
    "dashboard:campaign_analysis": [
        Case(SUPERVISING_A, target="campaign"),
        Case(SUPERVISING_A, target="campaign", query="_export=csv&table=tier"),
    ],
    # Reminders
    "reminders:status": Case(frozenset({ADMINISTRATOR})),
    "audit_log": [
        Case(frozenset({ADMINISTRATOR}), shows_customer_number=True),
        Case(frozenset({ADMINISTRATOR}), query="_export=csv", shows_customer_number=True),
        Case(frozenset({ADMINISTRATOR}), query="_export=xlsx", shows_customer_number=True),
    ],
    "reminders:preferences": [
        Case(SIGNED_IN),
        Case(SIGNED_IN, method="POST", data={"language": "en", "receive_digest": "on"}),
    ],
}

ADMIN_NAMESPACE = "admin"
# Values for the arguments of admin URLs. A non-staff user is redirected before any lookup, so
# the objects need not exist.
ADMIN_KWARGS = {"app_label": "portal", "object_id": "1", "content_type_id": "1", "id": "1"}


def url_patterns(patterns=None, namespace=""):
    """Yield (name, route) for every URL pattern, following includes; name is None when unnamed."""
    if patterns is None:
        patterns = get_resolver().url_patterns
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = namespace
            if pattern.namespace:
                inner = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
            for name, route in url_patterns(pattern.url_patterns, inner):
                yield name, f"{pattern.pattern}{route}"
        elif isinstance(pattern, URLPattern):
            name = None
            if pattern.name:
                name = f"{namespace}:{pattern.name}" if namespace else pattern.name
            yield name, str(pattern.pattern)


def is_admin(route: str) -> bool:
    return route.startswith("admin/")


def admin_url_names() -> list[str]:
    return sorted({name for name, route in url_patterns() if name and is_admin(route)})


def access_cases():
    for name, cases in ACCESS.items():
        for case in cases if isinstance(cases, list) else [cases]:
            for role in ROLES:
                label = f"{case.method} {name}"
                if case.kwargs:
                    label += "[" + ",".join(f"{key}={value}" for key, value in case.kwargs.items()) + "]"
                if case.query:
                    label += f"?{case.query}"
                yield pytest.param(name, case, role, id=f"{label} as {role}")


def csrf_failure(request, reason=""):
    """Return status 499 for a failed CSRF check, so that it cannot pass for a 403 of the view."""
    return HttpResponse(f"CSRF check failed: {reason}", status=499)


def csrf_client() -> Client:
    """Return a client that enforces CSRF checks and carries a valid token for every request."""
    secret = _get_new_csrf_string()
    client = Client(enforce_csrf_checks=True, HTTP_X_CSRFTOKEN=_mask_cipher_secret(secret))
    client.cookies[settings.CSRF_COOKIE_NAME] = secret
    return client


def response_text(response) -> str:
    """Return the body as text: CSV and pages decoded, XLSX as the text of every cell."""
    content = b"".join(response.streaming_content) if response.streaming else response.content
    if response.get("Content-Type", "").startswith("application/vnd.openxmlformats"):
        workbook = load_workbook(BytesIO(content), read_only=True)
        cells = []
        for sheet in workbook.worksheets:
            for row in sheet.iter_rows(values_only=True):
                cells.extend(str(value) for value in row if value is not None)
        return "\n".join(cells)
    return content.decode("utf-8", errors="replace")


@pytest.fixture
def world(users, branch_tree, settings, tmp_path):
    """Objects of branch A that every object URL points to, created with known data."""
    settings.MEDIA_ROOT = tmp_path / "media"
    # /health/ would wait for a Celery ping over Redis; access does not depend on it.
    settings.REDIS_URL = ""
    settings.CSRF_FAILURE_VIEW = "tests.security.test_url_walk.csrf_failure"
    platform, manager = users["platform"], users["manager_a"]
    users["admin"].is_staff = users["admin"].is_superuser = True
    users["admin"].save(update_fields=["is_staff", "is_superuser"])

    customer = CustomerFactory(
        branch=branch_tree["a"],
        client_manager=manager,
        customer_no="WALK000001",
        name="Walkcheck Qian",
        phone="13987650001",
        id_number="11010519491231002X",
        email="walkcheck.qian@mail.example",
        occupation="management",
    )
    other_customer = CustomerFactory(branch=branch_tree["a"], client_manager=manager, occupation="management")
    segment = SegmentFactory(created_by=platform, filters={})
    campaign = CampaignFactory(owner=platform, segment=segment, status=Campaign.Status.ACTIVE)
    task = TaskFactory(campaign=campaign, customer=customer, assignee=manager)
    task_done = TaskFactory(
        campaign=campaign, customer=other_customer, assignee=manager, status=FollowUpTask.Status.DONE
    )
    campaign_draft = CampaignFactory(
        owner=platform, segment=segment, status=Campaign.Status.DRAFT, fallback_branch=branch_tree["a"]
    )
    roster_file = SimpleUploadedFile("roster.csv", b"customer_no,name,branch,aum\nWALK000002,Sun,BA,900000\n")
    roster_import = roster_import_create(
        user=platform, uploaded_file=roster_file, kind="roster", options={"delimiter": "", "sheet": ""}
    )
    saved_filter = SavedFilter.objects.create(user=manager, name="Mine", page="customers:list", query_string="")
    settings.EXPORT_ROOT = tmp_path / "exports"
    settings.EXPORT_ROOT.mkdir()
    (settings.EXPORT_ROOT / "walk.csv").write_text("\ufeffTask\r\n1\r\n", encoding="utf-8")
    export_file = ExportLog.objects.create(
        user=manager, view_name="campaigns:task_list", path="/campaigns/tasks/", export_format="csv",
        file_status=ExportLog.FileStatus.READY, file_path="walk.csv", download_name="tasks.csv", row_count=1,
    )
    return {
        "customer": customer,
        "campaign": campaign,
        "campaign_draft": campaign_draft,
        "task": task,
        "task_done": task_done,
        "roster_import": roster_import,
        "saved_filter": saved_filter,
        "export_file": export_file,
        "leave": Leave.objects.create(user=manager, starts_on=datetime.date(2030, 1, 2), ends_on=datetime.date(2030, 1, 3)),
        # A client manager whose handover page the platform opens.
        "leaver": manager,
        "leak_markers": [customer.customer_no, customer.name, customer.phone, customer.id_number, customer.email],
    }


def test_every_url_has_an_entry():
    missing = []
    for name, route in url_patterns():
        if is_admin(route):
            continue
        if name is None:
            missing.append(f"unnamed pattern {route!r}")
        elif name not in ACCESS:
            missing.append(f"{name} ({route})")
    assert not missing, "URLs without an entry in ACCESS of tests/security/test_url_walk.py: " + ", ".join(missing)


def test_table_names_existing_urls():
    names = {name for name, _route in url_patterns()}
    stale = sorted(set(ACCESS) - names)
    assert not stale, f"ACCESS lists URL names that no longer exist: {', '.join(stale)}"


@pytest.mark.parametrize(("name", "case", "role"), list(access_cases()))
def test_url_access(name, case, role, world, users):
    client = csrf_client()
    if ROLES[role] is not None:
        client.force_login(users[ROLES[role]])
    kwargs = dict(case.kwargs)
    target = world[case.target] if case.target else None
    if target is not None:
        kwargs["pk"] = target.pk
    data = {
        key: getattr(target, value.name) if isinstance(value, TargetField) else value
        for key, value in case.data.items()
    }
    url = reverse(name, kwargs=kwargs or None)
    if case.query:
        url = f"{url}?{case.query}"
    headers = {"HX-Request": "true"} if case.htmx else {}

    if case.method == "POST":
        response = client.post(url, data, headers=headers)
    else:
        response = client.get(url, headers=headers)

    status = response.status_code
    login_url = resolve_url(settings.LOGIN_URL)
    redirected_to_login = 300 <= status < 400 and response["Location"].startswith(login_url)
    if role in case.allowed:
        assert 200 <= status < 400, f"{role} may use {case.method} {url} but got {status}"
        if role == ANONYMOUS:
            assert not redirected_to_login, f"{url} needs no sign-in but redirected to {response['Location']}"
    elif role == ANONYMOUS:
        assert redirected_to_login, f"anonymous {case.method} {url} got {status}, not a redirect to {login_url}"
    else:
        assert status in (HTTPStatus.FORBIDDEN, HTTPStatus.NOT_FOUND), (
            f"{role} must not use {case.method} {url} but got {status}"
        )

    if role in LEAK_CHECKED and role in case.allowed:
        text = response_text(response)
        markers = world["leak_markers"]
        if case.shows_customer_number:
            markers = [marker for marker in markers if marker != world["customer"].customer_no]
        for marker in markers:
            assert marker not in text, f"{role} saw {marker!r} of a branch-A customer in {case.method} {url}"


def admin_cases():
    for name in admin_url_names():
        for role in ROLES:
            yield pytest.param(name, role, id=f"{name} as {role}")


@pytest.mark.parametrize(("name", "role"), list(admin_cases()))
def test_admin_only_for_staff(name, role, world, users):
    client = Client()
    if ROLES[role] is not None:
        client.force_login(users[ROLES[role]])
    url = reverse(name, kwargs={key: ADMIN_KWARGS[key] for key in _kwarg_names(name)} or None)

    response = client.get(url)

    status = response.status_code
    if role == ADMINISTRATOR:
        if name == "admin:index" or name.endswith("_changelist"):
            assert status == HTTPStatus.OK, f"the administrator got {status} for {url}"
        return
    if name == "admin:login":
        assert status == HTTPStatus.OK, f"{role} got {status} for the admin sign-in page"
        return
    sign_in_pages = (resolve_url(settings.LOGIN_URL), reverse("admin:login"))
    if name == "admin:logout":
        # Django's admin sends a signed-in user who is not staff from its logout to its index.
        sign_in_pages += (reverse("admin:index"),)
    assert 300 <= status < 400, f"{role} got {status} for {url}, not a redirect to a sign-in page"
    assert response["Location"].startswith(sign_in_pages), f"{role} was sent to {response['Location']}"


def _route_of(name: str) -> str:
    return next(route for pattern_name, route in url_patterns() if pattern_name == name)


def _kwarg_names(name: str) -> set[str]:
    route = _route_of(name)
    return {group for pair in re.findall(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>", route) for group in pair if group}
