from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('portal', '0004_capacity_and_leave'),
    ]

    operations = [
        migrations.AlterField(
            model_name='auditevent',
            name='action',
            field=models.CharField(choices=[('create', 'Created'), ('update', 'Changed'), ('assign', 'Reassigned'), ('delete', 'Deleted'), ('export', 'Exported'), ('reveal', 'Revealed a full identifier'), ('login', 'Signed in'), ('login_failed', 'Sign-in failed'), ('logout', 'Signed out'), ('access_denied', 'Access denied'), ('not_found', 'Not found or out of scope')], max_length=30, verbose_name='action'),
        ),
        migrations.AddIndex(
            model_name='auditevent',
            index=models.Index(fields=['action', 'created_at'], name='audit_action_created_idx'),
        ),
    ]
