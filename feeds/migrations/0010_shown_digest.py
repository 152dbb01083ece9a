"""The board verdict's digest: a sweep compares it instead of reading each verdict back."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('feeds', '0009_activity_days')]

    initial = False

    operations = [
        ops.AddField(
            model_name='VelocityState',
            name='shown_digest',
            field=fields.CharField(max_length=32, null=True),
        ),
    ]
