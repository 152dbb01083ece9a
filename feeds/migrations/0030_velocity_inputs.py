"""A digest of what each stored velocity verdict was computed from (its day, the child's
creation, the flag before, its days' tallies): a sweep later the same day skips a child
whose inputs are unchanged, since its verdict cannot have moved."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("feeds", "0029_shielded_index")]

    initial = False

    operations = [
        ops.AddField(
            model_name="VelocityState",
            name="inputs_digest",
            field=fields.CharField(max_length=32, null=True),
        ),
    ]
