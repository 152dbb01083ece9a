from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('feeds', '0006_trust')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='Grant',
            index=Index(fields=['professional_id']),
        ),
        ops.AddIndex(
            model_name='Grant',
            index=Index(fields=['team_id']),
        ),
        ops.AddIndex(
            model_name='TeamMember',
            index=Index(fields=['professional_id']),
        ),
    ]
