import pytest
from django.core.management import CommandError, call_command

from campaigns.models import Campaign, FollowUpTask
from customers.models import Customer

pytestmark = pytest.mark.django_db


@pytest.fixture
def roster_file(write_csv):
    return write_csv("roster.csv", "客户号;姓名;资产\n001;张三;1,000\n002;李四;2,000\n", encoding="gbk")


def test_import_roster_commits(roster_file, branch_tree, capsys):
    call_command("import_roster", str(roster_file), "--default-branch", "BA")

    out = capsys.readouterr().out
    assert "new: 2" in out
    assert Customer.objects.filter(branch=branch_tree["a"]).count() == 2


def test_import_roster_dry_run_writes_nothing(roster_file, branch_tree, capsys):
    call_command("import_roster", str(roster_file), "--default-branch", "BA", "--dry-run")

    assert "new: 2" in capsys.readouterr().out
    assert Customer.objects.count() == 0


def test_import_roster_invalid_rows_exit_nonzero(write_csv, branch_tree, capsys):
    path = write_csv("bad.csv", "customer_no,aum\n001,100\n002,lots\n")

    with pytest.raises(CommandError, match="1 of 2 rows are invalid"):
        call_command("import_roster", str(path), "--default-branch", "BA")

    assert "row 3, column 'aum', value 'lots'" in capsys.readouterr().err
    assert Customer.objects.count() == 0


def test_import_roster_commit_valid(write_csv, branch_tree):
    path = write_csv("bad.csv", "customer_no,aum\n001,100\n002,lots\n")

    call_command("import_roster", str(path), "--default-branch", "BA", "--commit-valid")

    assert list(Customer.objects.values_list("customer_no", flat=True)) == ["001"]


def test_import_roster_map_and_delimiter(write_csv, branch_tree):
    path = write_csv("mapped.csv", "id;full name;wealth\nX1;Ann;5\n")

    call_command(
        "import_roster", str(path), "--delimiter", ";", "--map", "id=customer_no", "--map", "full name=name",
        "--map", "wealth=aum", "--default-branch", "BB",
    )

    customer = Customer.objects.get(customer_no="X1")
    assert customer.name == "Ann"
    assert customer.aum == 5


def test_import_roster_unknown_default_branch(roster_file, branch_tree):
    with pytest.raises(CommandError, match="not found"):
        call_command("import_roster", str(roster_file), "--default-branch", "NOPE")


def test_import_roster_needs_branch(roster_file, branch_tree):
    with pytest.raises(CommandError, match="default branch"):
        call_command("import_roster", str(roster_file))


def test_import_outcomes_command(write_csv, branch_tree, users, capsys):
    Customer.objects.create(customer_no="001", branch=branch_tree["a"])
    path = write_csv("out.csv", "customer_no,y,contact\n001,yes,telephone\n")

    call_command("import_outcomes", str(path), "--campaign-name", "Old", "--date", "2023-06-30")

    assert "converted: 1" in capsys.readouterr().out
    campaign = Campaign.objects.get(name="Old")
    assert str(campaign.starts_on) == "2023-06-30"
    assert FollowUpTask.objects.get(campaign=campaign).channel == "phone"


def test_import_outcomes_invalid_exit_nonzero(write_csv, branch_tree, users):
    path = write_csv("out.csv", "customer_no,y\n404,yes\n")

    with pytest.raises(CommandError, match="invalid"):
        call_command("import_outcomes", str(path), "--campaign-name", "Old")

    assert Campaign.objects.count() == 0


def test_import_outcomes_owner_must_be_platform(write_csv, branch_tree, users):
    Customer.objects.create(customer_no="001", branch=branch_tree["a"])
    path = write_csv("out.csv", "customer_no,y\n001,yes\n")

    with pytest.raises(CommandError, match="cm_a"):
        call_command("import_outcomes", str(path), "--campaign-name", "Old", "--owner", "cm_a")

    assert Campaign.objects.count() == 0


def test_import_roster_dry_run_invalid_exit_nonzero(write_csv, branch_tree):
    path = write_csv("bad.csv", "customer_no,aum\n001,100\n002,lots\n")

    with pytest.raises(CommandError, match="1 rows are invalid"):
        call_command("import_roster", str(path), "--default-branch", "BA", "--dry-run")

    assert Customer.objects.count() == 0
