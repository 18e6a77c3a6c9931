"""Index the task list's default order, (due date, id), overall and per campaign, so that its
first page reads a few index entries instead of sorting every task. The per-campaign index
replaces the single-column index of the campaign foreign key, since its prefix serves the
same lookups."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('campaigns', '0012_dashboard_figure_summary_and_uplift_index'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name='followuptask',
            name='campaign',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='tasks', to='campaigns.campaign', verbose_name='campaign'),
        ),
        migrations.AddIndex(
            model_name='followuptask',
            index=models.Index(fields=['due_on', 'id'], name='task_due_id_idx'),
        ),
        migrations.AddIndex(
            model_name='followuptask',
            index=models.Index(fields=['campaign', 'due_on', 'id'], name='task_campaign_due_idx'),
        ),
    ]
