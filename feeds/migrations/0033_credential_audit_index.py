"""An index of the audit trail's credential records only (sign-ins, codes, password
proofs: feeds/audit/actions.py CREDENTIAL_ACTIONS), by address and time, for the sign-in
throttles (feeds/accounts/throttle.py). They filtered the (ip, at) index of every audit
record: behind one address (an office's NAT, the load test's 127.0.0.1) each sign-in read
every audited request from it in the last day (190 ms and 4,900 pages after 110,000 feed
reads). Partial, so only credential records (a few per person a day) maintain it.

The list is frozen here as the migration wrote it; tests/trust/test_sign_in_throttle.py
checks it still equals CREDENTIAL_ACTIONS (a change there needs a new index)."""

from tortoise import migrations
from tortoise.migrations import operations as ops

ACTIONS = (
    "login",
    "mfa.verify",
    "mfa.recovery",
    "password.change",
    "password.confirm",
    "sign_in_link.use",
)
_LISTED = ", ".join(f"'{action}'" for action in ACTIONS)
CREATE = (
    "CREATE INDEX IF NOT EXISTS audit_record_credentials ON audit_record (ip, at) "
    f"WHERE action IN ({_LISTED})"
)


async def index_credentials(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    await schema_editor.client.execute_script(CREATE)  # the same SQL on both databases


class Migration(migrations.Migration):
    dependencies = [("feeds", "0032_audit_seal_batch")]

    initial = False

    operations = [ops.RunPython(index_credentials)]
