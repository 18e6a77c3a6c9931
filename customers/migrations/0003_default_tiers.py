"""Create the default tiers so that a new installation computes tiers from its first import.
The platform can change thresholds and service standards in the admin afterwards."""

from decimal import Decimal

from django.db import migrations

DEFAULT_TIERS = [
    # code, English name, Chinese name, minimum AUM in CNY, contact at least every N days
    ("gold", "Gold", "金卡", Decimal("500000"), 90),
    ("platinum", "Platinum", "白金", Decimal("2000000"), 60),
    ("diamond", "Diamond", "钻石", Decimal("6000000"), 30),
    ("private", "Private Banking", "私人银行", Decimal("30000000"), 14),
]


def create_tiers(apps, schema_editor):
    Tier = apps.get_model("customers", "Tier")
    for code, name_en, name_zh, min_aum, interval in DEFAULT_TIERS:
        Tier.objects.get_or_create(
            code=code,
            defaults={"name_en": name_en, "name_zh": name_zh, "min_aum": min_aum, "contact_interval_days": interval},
        )


class Migration(migrations.Migration):
    dependencies = [("customers", "0002_initial")]

    operations = [migrations.RunPython(create_tiers, migrations.RunPython.noop)]
