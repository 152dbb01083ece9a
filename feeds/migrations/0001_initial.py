from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from feeds.models import PostKind, Role, Sector
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='Agency',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(unique=True, max_length=200)),
                ('sector', fields.CharEnumField(description='SOCIAL_CARE: social_care\nHEALTH: health\nEDUCATION: education\nPOLICE: police\nVOLUNTARY: voluntary', enum_type=Sector, max_length=20)),
            ],
            options={'table': 'agency', 'app': 'feeds', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AuditRecord',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('actor_id', fields.IntField(null=True)),
                ('actor_email', fields.CharField(default='', max_length=254)),
                ('action', fields.CharField(max_length=64)),
                ('child_id', fields.IntField(null=True, db_index=True)),
                ('outcome', fields.CharField(max_length=16)),
                ('ip', fields.CharField(default='', max_length=64)),
                ('request_id', fields.CharField(default='', max_length=64)),
                ('detail', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
            ],
            options={'table': 'audit_record', 'app': 'feeds', 'pk_attr': 'id', 'table_description': 'Append-only: triggers refuse UPDATE and DELETE on this table.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Event',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('type', fields.CharField(max_length=40)),
                ('child_id', fields.IntField(null=True, db_index=True)),
                ('recipient_id', fields.IntField(null=True)),
                ('payload', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
            ],
            options={'table': 'event', 'app': 'feeds', 'pk_attr': 'id', 'table_description': 'The event log that live updates and websocket replay read, in id order.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Professional',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('email', fields.CharField(unique=True, max_length=254)),
                ('name', fields.CharField(max_length=200)),
                ('handle', fields.CharField(unique=True, max_length=64)),
                ('job_title', fields.CharField(default='', max_length=200)),
                ('agency', fields.ForeignKeyField('feeds.Agency', source_field='agency_id', db_constraint=True, to_field='id', related_name='professionals', on_delete=OnDelete.RESTRICT)),
                ('role', fields.CharEnumField(default=Role.PRACTITIONER, description='PRACTITIONER: practitioner\nMANAGER: manager\nADMIN: admin', enum_type=Role, max_length=20)),
                ('password_hash', fields.CharField(max_length=255)),
                ('is_active', fields.BooleanField(default=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'professional', 'app': 'feeds', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ApiToken',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('professional', fields.ForeignKeyField('feeds.Professional', source_field='professional_id', db_constraint=True, to_field='id', related_name='tokens', on_delete=OnDelete.RESTRICT)),
                ('name', fields.CharField(max_length=100)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('prefix', fields.CharField(max_length=12)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('last_used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'api_token', 'app': 'feeds', 'pk_attr': 'id', 'table_description': 'A personal access token for phone and integration clients, stored hashed.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Child',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('display_name', fields.CharField(max_length=200)),
                ('date_of_birth', fields.DateField(null=True)),
                ('reference', fields.CharField(unique=True, max_length=32)),
                ('lead_professional', fields.ForeignKeyField('feeds.Professional', source_field='lead_professional_id', null=True, db_constraint=True, to_field='id', related_name='lead_for', on_delete=OnDelete.RESTRICT)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'child', 'app': 'feeds', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Post',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('child', fields.ForeignKeyField('feeds.Child', source_field='child_id', db_constraint=True, to_field='id', related_name='posts', on_delete=OnDelete.RESTRICT)),
                ('author', fields.ForeignKeyField('feeds.Professional', source_field='author_id', db_constraint=True, to_field='id', related_name='posts', on_delete=OnDelete.RESTRICT)),
                ('kind', fields.CharEnumField(description='UPDATE: update\nHUNCH: hunch\nCONCERN: concern\nVISIT: visit\nPOSITIVE: positive', enum_type=PostKind, max_length=20)),
                ('body', fields.CharField(max_length=500)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('edited_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('removed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('removed_by', fields.ForeignKeyField('feeds.Professional', source_field='removed_by_id', null=True, db_constraint=True, to_field='id', related_name='posts_removed', on_delete=OnDelete.RESTRICT)),
                ('idempotency_key', fields.CharField(null=True, max_length=128)),
                ('request_fingerprint', fields.CharField(null=True, max_length=64)),
            ],
            options={'table': 'post', 'app': 'feeds', 'unique_together': (('author', 'idempotency_key'),), 'indexes': [Index(fields=['child_id', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PostRevision',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('post', fields.ForeignKeyField('feeds.Post', source_field='post_id', db_constraint=True, to_field='id', related_name='revisions', on_delete=OnDelete.RESTRICT)),
                ('kind', fields.CharEnumField(description='UPDATE: update\nHUNCH: hunch\nCONCERN: concern\nVISIT: visit\nPOSITIVE: positive', enum_type=PostKind, max_length=20)),
                ('body', fields.CharField(max_length=500)),
                ('replaced_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('replaced_by', fields.ForeignKeyField('feeds.Professional', source_field='replaced_by_id', db_constraint=True, to_field='id', related_name='revisions_made', on_delete=OnDelete.RESTRICT)),
            ],
            options={'table': 'post_revision', 'app': 'feeds', 'pk_attr': 'id', 'table_description': 'The text of a post before an edit (the current text stays on Post).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SearchOutbox',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('post_id', fields.IntField(null=True)),
                ('child_id', fields.IntField(null=True)),
                ('op', fields.CharField(max_length=16)),
                ('attempts', fields.IntField(default=0)),
                ('processed_at', fields.DatetimeField(null=True, db_index=True, auto_now=False, auto_now_add=False)),
                ('last_error', fields.CharField(default='', max_length=500)),
            ],
            options={'table': 'search_outbox', 'app': 'feeds', 'pk_attr': 'id', 'table_description': 'Index work written with the change it describes, drained by search/.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Session',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('professional', fields.ForeignKeyField('feeds.Professional', source_field='professional_id', db_constraint=True, to_field='id', related_name='sessions', on_delete=OnDelete.RESTRICT)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('last_seen_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('ip', fields.CharField(default='', max_length=64)),
                ('user_agent', fields.CharField(default='', max_length=300)),
            ],
            options={'table': 'session', 'app': 'feeds', 'pk_attr': 'id', 'table_description': 'A server-side login session: the cookie carries a random id and we store its hash.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Team',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(unique=True, max_length=200)),
                ('agency', fields.ForeignKeyField('feeds.Agency', source_field='agency_id', db_constraint=True, to_field='id', related_name='teams', on_delete=OnDelete.RESTRICT)),
            ],
            options={'table': 'team', 'app': 'feeds', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Grant',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('child', fields.ForeignKeyField('feeds.Child', source_field='child_id', db_constraint=True, to_field='id', related_name='grants', on_delete=OnDelete.RESTRICT)),
                ('professional', fields.ForeignKeyField('feeds.Professional', source_field='professional_id', null=True, db_constraint=True, to_field='id', related_name='grants', on_delete=OnDelete.RESTRICT)),
                ('team', fields.ForeignKeyField('feeds.Team', source_field='team_id', null=True, db_constraint=True, to_field='id', related_name='grants', on_delete=OnDelete.RESTRICT)),
                ('granted_by', fields.ForeignKeyField('feeds.Professional', source_field='granted_by_id', null=True, db_constraint=True, to_field='id', related_name='grants_given', on_delete=OnDelete.RESTRICT)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('revoked_by', fields.ForeignKeyField('feeds.Professional', source_field='revoked_by_id', null=True, db_constraint=True, to_field='id', related_name='grants_revoked', on_delete=OnDelete.RESTRICT)),
            ],
            options={'table': 'grant', 'app': 'feeds', 'indexes': [Index(fields=['child_id', 'revoked_at'])], 'pk_attr': 'id', 'table_description': 'Need-to-know access to one child, for one professional or one team.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='TeamMember',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('team', fields.ForeignKeyField('feeds.Team', source_field='team_id', db_constraint=True, to_field='id', related_name='members', on_delete=OnDelete.RESTRICT)),
                ('professional', fields.ForeignKeyField('feeds.Professional', source_field='professional_id', db_constraint=True, to_field='id', related_name='memberships', on_delete=OnDelete.RESTRICT)),
                ('is_manager', fields.BooleanField(default=False)),
            ],
            options={'table': 'team_member', 'app': 'feeds', 'unique_together': (('team', 'professional'),), 'pk_attr': 'id', 'table_description': 'Membership of a professional in a team (managers are members with is_manager).'},
            bases=['Model'],
        ),
    ]
