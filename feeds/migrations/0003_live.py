from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('feeds', '0002_audit_append_only')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Acknowledgement',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('post', fields.ForeignKeyField('feeds.Post', source_field='post_id', db_constraint=True, to_field='id', related_name='acknowledgements', on_delete=OnDelete.RESTRICT)),
                ('professional', fields.ForeignKeyField('feeds.Professional', source_field='professional_id', db_constraint=True, to_field='id', related_name='acknowledgements', on_delete=OnDelete.RESTRICT)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'acknowledgement', 'app': 'feeds', 'unique_together': (('post', 'professional'),), 'pk_attr': 'id', 'table_description': 'A professional marking a post (usually a hunch or concern) as seen.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Follow',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('child', fields.ForeignKeyField('feeds.Child', source_field='child_id', db_constraint=True, to_field='id', related_name='follows', on_delete=OnDelete.RESTRICT)),
                ('professional', fields.ForeignKeyField('feeds.Professional', source_field='professional_id', null=True, db_constraint=True, to_field='id', related_name='follows', on_delete=OnDelete.RESTRICT)),
                ('team', fields.ForeignKeyField('feeds.Team', source_field='team_id', null=True, db_constraint=True, to_field='id', related_name='follows', on_delete=OnDelete.RESTRICT)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'follow', 'app': 'feeds', 'unique_together': (('child', 'professional'), ('child', 'team')), 'pk_attr': 'id', 'table_description': "A professional or a team following a child's feed (team follows cover every member)."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Notification',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('recipient', fields.ForeignKeyField('feeds.Professional', source_field='recipient_id', db_constraint=True, to_field='id', related_name='notifications', on_delete=OnDelete.RESTRICT)),
                ('kind', fields.CharField(max_length=32)),
                ('child_id', fields.IntField(null=True)),
                ('post_id', fields.IntField(null=True)),
                ('actor_id', fields.IntField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('read_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'notification', 'app': 'feeds', 'indexes': [Index(fields=['recipient_id', 'read_at'])], 'pk_attr': 'id', 'table_description': "One item in a professional's inbox (a mention, or a post on a followed child)."},
            bases=['Model'],
        ),
    ]
