from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("portal", "0005_audit_actions"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="amount_in_wan",
            field=models.BooleanField(
                default=False,
                help_text="In the Chinese interface, amounts of 10,000 yuan or more are shown in 万元. Exports always contain the full amount.",
                verbose_name="show large amounts in 万元 (10,000 yuan)",
            ),
        ),
    ]
