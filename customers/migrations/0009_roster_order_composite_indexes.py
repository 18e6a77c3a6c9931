"""Replace the single-column indexes of the customer's branch, client manager and tier by
composite indexes that end with the customer number, the roster's default order. The total
number of indexes on the customer table, which each imported row maintains, stays the same."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0008_drop_snapshot_date_index'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name='customer',
            name='branch',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='customers', to='customers.branch', verbose_name='branch'),
        ),
        migrations.AlterField(
            model_name='customer',
            name='client_manager',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='customers', to=settings.AUTH_USER_MODEL, verbose_name='client manager'),
        ),
        migrations.AlterField(
            model_name='customer',
            name='tier',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='customers', to='customers.tier', verbose_name='tier'),
        ),
        migrations.AddIndex(
            model_name='customer',
            index=models.Index(fields=['branch', 'customer_no'], name='customer_branch_no_idx'),
        ),
        migrations.AddIndex(
            model_name='customer',
            index=models.Index(fields=['client_manager', 'customer_no'], name='customer_manager_no_idx'),
        ),
        migrations.AddIndex(
            model_name='customer',
            index=models.Index(fields=['tier', 'customer_no'], name='customer_tier_no_idx'),
        ),
    ]
