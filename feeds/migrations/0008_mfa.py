from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('feeds', '0007_access_indexes')]

    initial = False

    operations = [
        ops.CreateModel(
            name='MfaFactor',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('professional', fields.OneToOneField('feeds.Professional', source_field='professional_id', db_constraint=True, to_field='id', related_name='mfa_factor', on_delete=OnDelete.RESTRICT)),
                ('secret', fields.CharField(max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('confirmed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_used_step', fields.BigIntField(null=True)),
            ],
            options={'table': 'mfa_factor', 'app': 'feeds', 'pk_attr': 'id', 'table_description': 'A TOTP authenticator app of one professional, active once confirmed with a code.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RecoveryCode',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('professional', fields.ForeignKeyField('feeds.Professional', source_field='professional_id', db_constraint=True, to_field='id', related_name='recovery_codes', on_delete=OnDelete.RESTRICT)),
                ('code_hash', fields.CharField(max_length=255)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'recovery_code', 'app': 'feeds', 'indexes': [Index(fields=['professional_id', 'used_at'])], 'pk_attr': 'id', 'table_description': 'A one-time recovery code, stored as an argon2id hash (see feeds/mfa.py).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SiteSetting',
            fields=[
                ('key', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('value', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('updated_by_id', fields.IntField(null=True)),
            ],
            options={'table': 'site_setting', 'app': 'feeds', 'pk_attr': 'key', 'table_description': 'A site-wide setting an administrator changes at run time (e.g. require_mfa).'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Session',
            name='mfa_pending',
            field=fields.BooleanField(default=False),
        ),
    ]
