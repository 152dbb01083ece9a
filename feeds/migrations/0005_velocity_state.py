from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('feeds', '0004_search')]

    initial = False

    operations = [
        ops.CreateModel(
            name='VelocityState',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('child_id', fields.IntField(unique=True)),
                ('flagged', fields.BooleanField(default=False)),
                ('score', fields.FloatField(default=0.0)),
                ('flagged_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'velocity_state', 'app': 'feeds', 'pk_attr': 'id', 'table_description': 'The last velocity verdict for each child, kept so hysteresis holds between runs.'},
            bases=['Model'],
        ),
    ]
