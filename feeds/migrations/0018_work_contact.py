"""How to reach a professional at work (issue 16 part 3): a work phone and email on
the profile, shown in the team around the child."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("feeds", "0017_silence")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Professional",
            name="work_phone",
            field=fields.CharField(default="", db_default="", max_length=40),
        ),
        ops.AddField(
            model_name="Professional",
            name="work_email",
            field=fields.CharField(default="", db_default="", max_length=254),
        ),
    ]
