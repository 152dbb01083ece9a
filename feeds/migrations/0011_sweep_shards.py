"""Shards of the periodic velocity sweep, claimed by workers so they share it."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('feeds', '0010_shown_digest')]

    initial = False

    operations = [
        ops.CreateModel(
            name='VelocitySweepShard',
            fields=[
                ('shard', fields.IntField(primary_key=True, unique=True, db_index=True)),
                ('claimed_by', fields.CharField(null=True, max_length=64)),
                ('claimed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('swept_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'velocity_sweep_shard', 'app': 'feeds', 'pk_attr': 'shard', 'table_description': 'One slice of the periodic velocity sweep (children whose id % shards == shard).'},
            bases=['Model'],
        ),
    ]
