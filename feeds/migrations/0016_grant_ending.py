"""Access ending soon (issue 15): when a grant's "ends in 3 days" warning was sent."""

from tortoise import fields, migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("feeds", "0015_network")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Grant",
            name="ending_warned_at",
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        # Every sweep step looks for grants entering their last days: by expiry.
        ops.AddIndex(model_name="Grant", index=Index(fields=["expires_at"])),
    ]
