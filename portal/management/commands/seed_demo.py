"""Create a demo bank: branches, one account per role, a Chinese roster and two running
campaigns with tasks in every status. Everything goes through the same services as the portal."""

import datetime
import random
from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from faker import Faker

from campaigns import services as campaign_services
from campaigns.models import Campaign, Channel, FollowUpTask, Outcome, Segment
from customers.models import Branch, Customer, Tier
from customers.selectors import tier_for_aum
from portal.models import Role, User

DEMO_PASSWORD = "portal-demo-2026"
OCCUPATIONS = ["企业主", "医生", "教师", "律师", "工程师", "公务员", "金融从业者", "退休人员", "个体经营者", "高管"]
MARITAL = ["已婚", "未婚", "离异"]
EDUCATION = ["本科", "硕士", "博士", "大专", "高中"]


class Command(BaseCommand):
    help = "Create demo branches, users in every role, a Chinese roster and running campaigns."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=300, help="Number of customers to create (default 300).")
        parser.add_argument("--seed", type=int, default=2026, help="Random seed, so the demo is the same every time.")
        parser.add_argument(
            "--if-empty", action="store_true", help="Do nothing when the database already has users."
        )

    def handle(self, *args, customers, seed, if_empty, **options):
        if if_empty and User.objects.exists():
            self.stdout.write("The database already has users; demo data not loaded.")
            return
        random.seed(seed)
        fake = Faker("zh_CN")
        Faker.seed(seed)
        with transaction.atomic():
            branches = self.create_branches()
            accounts = self.create_users(branches)
            self.create_roster(fake, branches, accounts, customers)
        # Launch and task changes run in their own transactions, as they do in the portal.
        self.create_campaigns(accounts)
        self.print_accounts(accounts)

    def create_branches(self):
        head = Branch.objects.create(code="HO", name="总行", level=Branch.Level.HEAD_OFFICE)
        beijing = Branch.objects.create(code="BJ", name="北京分行", parent=head)
        shanghai = Branch.objects.create(code="SH", name="上海分行", parent=head)
        return {
            "head": head,
            "beijing": beijing,
            "chaoyang": Branch.objects.create(
                code="BJ01", name="朝阳支行", parent=beijing, level=Branch.Level.SUB_BRANCH
            ),
            "haidian": Branch.objects.create(code="BJ02", name="海淀支行", parent=beijing, level=Branch.Level.SUB_BRANCH),
            "shanghai": shanghai,
            "pudong": Branch.objects.create(code="SH01", name="浦东支行", parent=shanghai, level=Branch.Level.SUB_BRANCH),
        }

    def create_users(self, branches):
        def user(username, last_name, first_name, role, branch, supervisor=None, **extra):
            account = User(
                username=username,
                last_name=last_name,
                first_name=first_name,
                role=role,
                branch=branch,
                supervisor=supervisor,
                email=f"{username}@bank.example",
                **{"language": "zh-hans", **extra},
            )
            account.set_password(DEMO_PASSWORD)
            account.save()
            return account

        admin = user("admin", "系统", "管理员", Role.ADMINISTRATOR, branches["head"], is_staff=True, is_superuser=True)
        platform = user("platform", "王", "运营", Role.PLATFORM, branches["head"])
        supervisor_bj = user("sup_bj", "李", "主管", Role.SUPERVISOR, branches["beijing"])
        supervisor_sh = user("sup_sh", "张", "主管", Role.SUPERVISOR, branches["shanghai"])
        managers = [
            user("cm_bj1", "陈", "晓明", Role.CLIENT_MANAGER, branches["chaoyang"], supervisor_bj),
            user("cm_bj2", "刘", "佳怡", Role.CLIENT_MANAGER, branches["chaoyang"], supervisor_bj),
            user("cm_bj3", "赵", "子涵", Role.CLIENT_MANAGER, branches["haidian"], supervisor_bj),
            user("cm_sh1", "周", "思远", Role.CLIENT_MANAGER, branches["pudong"], supervisor_sh),
            user("cm_sh2", "吴", "雨桐", Role.CLIENT_MANAGER, branches["pudong"], supervisor_sh, language="en"),
        ]
        return {
            "admin": admin,
            "platform": platform,
            "supervisor_bj": supervisor_bj,
            "supervisor_sh": supervisor_sh,
            "managers": managers,
        }

    def create_roster(self, fake, branches, accounts, count):
        tiers = list(Tier.objects.order_by("min_aum"))
        rows = []
        for number in range(1, count + 1):
            manager = random.choice(accounts["managers"])
            # One customer in ten has no client manager yet, so launches show balanced assignment.
            has_manager = random.random() >= 0.1
            gender = random.choice(["M", "F"])
            name = fake.last_name() + (fake.first_name_male() if gender == "M" else fake.first_name_female())
            # AUM from CNY 500k up to private-banking sizes, most customers near the bottom.
            aum = Decimal(int(500_000 * 10 ** (random.random() ** 2 * 2))).quantize(Decimal("1.00"))
            rows.append(
                Customer(
                    customer_no=f"6{number:011d}",
                    name=name,
                    gender=gender,
                    birth_date=fake.date_of_birth(minimum_age=25, maximum_age=80),
                    phone=fake.phone_number(),
                    email=fake.email(),
                    id_number=fake.ssn(),
                    occupation=random.choice(OCCUPATIONS),
                    marital_status=random.choice(MARITAL),
                    education=random.choice(EDUCATION),
                    branch=manager.branch,
                    client_manager=manager if has_manager else None,
                    aum=aum,
                    tier=tier_for_aum(aum=aum, tiers=tiers),
                    risk_level=random.choice(["R1", "R2", "R3", "R4", "R5"]),
                    do_not_contact=random.random() < 0.03,
                )
            )
        Customer.objects.bulk_create(rows)

    def create_campaigns(self, accounts):
        platform = accounts["platform"]
        today = timezone.localdate()
        high_value = Segment.objects.create(
            name="AUM 200万以上", filters={"aum_min": "2000000"}, created_by=platform
        )
        everyone = Segment.objects.create(name="全部客户", filters={}, created_by=platform)
        running = Campaign.objects.create(
            name="年末理财到期回访",
            objective="联系资产200万以上的客户，介绍年末到期产品的续作方案。",
            talking_points="1. 问候并确认近期资金安排\n2. 介绍新发行的稳健型理财\n3. 预约面谈时间",
            segment=high_value,
            owner=platform,
            starts_on=today - datetime.timedelta(days=3),
            due_on=today + datetime.timedelta(days=10),
            fallback_branch=accounts["managers"][0].branch,
        )
        overdue = Campaign.objects.create(
            name="季度客户关怀",
            objective="每季度至少联系一次客户，了解需求变化。",
            talking_points="问候客户，更新联系方式与风险偏好。",
            segment=everyone,
            owner=platform,
            starts_on=today - datetime.timedelta(days=30),
            due_on=today - datetime.timedelta(days=5),
            fallback_branch=accounts["managers"][3].branch,
        )
        for campaign in (running, overdue):
            campaign_services.campaign_launch(campaign=campaign, actor=platform)

        self.work_tasks(overdue, share=0.7, platform=platform)
        self.work_tasks(running, share=0.3, platform=platform)

    def work_tasks(self, campaign, *, share, platform):
        """Record contacts on a share of the campaign's tasks, verify or return some of them,
        then move the completion times back into the campaign's period, so the demo dashboard
        shows a history (weeks of completions, late and on-time work) rather than one moment."""
        today = timezone.localdate()
        tasks = list(FollowUpTask.objects.filter(campaign=campaign).select_related("assignee").order_by("id"))
        outcomes = [Outcome.CONVERTED, Outcome.INTERESTED, Outcome.DECLINED, Outcome.REACHED, Outcome.NOT_REACHABLE]
        weights = [12, 18, 20, 40, 10]
        period_days = max((min(campaign.due_on, today) - campaign.starts_on).days, 1)
        for index, task in enumerate(tasks[: int(len(tasks) * share)]):
            outcome = random.choices(outcomes, weights)[0]
            complete = outcome != Outcome.NOT_REACHABLE
            campaign_services.task_record_contact(
                task=task,
                actor=task.assignee,
                channel=random.choice([Channel.PHONE, Channel.WECHAT, Channel.VISIT]),
                outcome=outcome,
                note="演示数据",
                next_follow_up_on=today + datetime.timedelta(days=30),
                complete=complete,
            )
            if not complete:
                continue
            # One task in ten was finished after its due date.
            late = random.random() < 0.1 and campaign.due_on < today
            day = campaign.due_on + datetime.timedelta(days=random.randint(1, 4)) if late else (
                campaign.starts_on + datetime.timedelta(days=random.randint(0, period_days))
            )
            moment = timezone.make_aware(datetime.datetime.combine(day, datetime.time(random.randint(9, 18))))
            FollowUpTask.objects.filter(pk=task.pk).update(completed_at=moment)
            task.refresh_from_db()
            if index % 3 == 0:
                campaign_services.task_verify(task=task, actor=platform)
            elif index % 7 == 1:
                campaign_services.task_return(task=task, actor=platform, reason="请补充面谈记录")
        # A customer who moved abroad: the platform cancels the open task that is left.
        untouched = tasks[int(len(tasks) * share):]
        if untouched:
            campaign_services.task_cancel(task=untouched[-1], actor=platform, reason="客户已移居海外")

    def print_accounts(self, accounts):
        self.stdout.write(self.style.SUCCESS("Demo data loaded. Accounts (password for all: %s):" % DEMO_PASSWORD))
        rows = [accounts["admin"], accounts["platform"], accounts["supervisor_bj"], accounts["supervisor_sh"]]
        rows += accounts["managers"]
        for account in rows:
            self.stdout.write(f"  {account.username:<10} {account.get_role_display():<20} {account.branch}")
