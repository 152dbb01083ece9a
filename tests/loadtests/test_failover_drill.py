"""CI runs the host-failure drill's short form (loadtests/failover_drill.py) in the
PostgreSQL pass: two host groups behind HAProxy, 100 sockets, kill -9 of one group.

HAProxy missing is a failure here, not a skip: .ci/run installs it.
"""

from __future__ import annotations

from loadtests.cluster import haproxy_binary
from loadtests.failover_drill import DrillConfig, run_drill
from tests import db_backends

pytestmark = db_backends.postgres_only(
    "host groups share only PostgreSQL: the drill runs in the PostgreSQL pass"
)

SHORT = DrillConfig(sockets=100, children=20, rate=10, lanes=2, before=5, after=8, settle=20)


def test_haproxy_is_installed() -> None:
    assert haproxy_binary()


async def test_killing_a_host_group_loses_no_event_and_no_acknowledged_post() -> None:
    url = db_backends.create_empty_postgres_database()
    try:
        result = await run_drill(SHORT, url)
    finally:
        db_backends.drop_postgres_database(url)
    print(result.report())
    # Both groups had sockets (leastconn), and every one on the killed group came back.
    assert 0 < result.sockets_reconnected < SHORT.sockets
    assert result.sockets_open == SHORT.sockets and result.sockets_not_back == 0
    # Every socket got every event it may see exactly once, in order; some by replay.
    assert result.events_expected > SHORT.sockets
    assert result.events_missing == result.events_duplicated == result.events_unexpected == 0
    assert result.out_of_order == result.reloads == 0
    assert result.replayed > 0
    # Every acknowledged post is stored exactly once, under the acknowledged id.
    assert result.posts_acknowledged > SHORT.rate * (SHORT.before + SHORT.after) / 2
    assert result.posts_unacknowledged == 0
    assert result.posts_lost == result.posts_duplicated == result.posts_misnumbered == 0
    assert result.posts_stored == result.posts_acknowledged
    assert result.ok
