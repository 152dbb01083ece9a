"""The stored silence verdict per child ("gone quiet"), beside velocity_state."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [("feeds", "0016_grant_ending")]

    initial = False

    operations = [
        ops.CreateModel(
            name='SilenceState',
            fields=[
                ('id', fields.IntField(primary_key=True, unique=True, db_index=True)),
                ('child_id', fields.IntField(unique=True)),
                ('flagged', fields.BooleanField(default=False)),
                ('score', fields.FloatField(default=0.0)),
                ('flagged_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('silent_agencies', fields.JSONField(default=list)),
                ('reasons', fields.JSONField(default=list)),
                ('assessed_on', fields.DateField(null=True)),
            ],
            options={'table': 'silence_state', 'app': 'feeds', 'pk_attr': 'id', 'table_description': 'The last silence verdict for each child.'},
            bases=['Model'],
        ),
    ]
