"""CI runs the hot standby drill's short form (loadtests/replica_drill.py) in the
PostgreSQL pass: a private primary and standby, the standby stopped under load, then
replay paused past the staleness bound.

initdb, pg_ctl or pg_basebackup missing is a failure here, not a skip: .ci/test-deps
installs them.
"""

from __future__ import annotations

from loadtests.pg_private import pair_available
from loadtests.replica_drill import DrillConfig, run_drill
from tests import db_backends

pytestmark = db_backends.postgres_only("the standby drill runs in the PostgreSQL pass")

SHORT = DrillConfig(
    readers=3, children=10, rate=4, steady=2, outage=2, lag=2.5, max_lag=1.0, workers=1
)


def test_postgresql_server_tools_are_installed() -> None:
    assert pair_available()


async def test_standby_stopped_or_lagging_gives_no_error_and_bounded_staleness() -> None:
    result = await run_drill(SHORT)
    print(result.report())
    phases = result.phases
    assert result.posts > SHORT.rate * (SHORT.steady + SHORT.outage) / 2
    # Stopping the standby under load: reads fall back to the primary, with no error.
    assert result.total("errors") == 0
    assert phases["standby stopped"].reads > 0 and phases["standby stopped"].states["down"] > 0
    # Replay paused: reads may be stale only within the bound, then go to the primary.
    assert phases["replay paused"].states["behind"] > 0
    assert result.max_stale < SHORT.max_lag
    assert result.health["max_served_staleness_seconds"] <= SHORT.max_lag
    # The writer always reads its own posts, whatever the standby is doing.
    assert sum(p.own_reads for p in phases.values()) > 0
    assert sum(p.own_violations for p in phases.values()) == 0
    # The standby served reads when it could.
    assert result.health["reads"]["replica"] > 0 and phases["steady"].states["in use"] > 0
    assert result.ok
