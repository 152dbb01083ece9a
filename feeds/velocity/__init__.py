"""Attention velocity: the pure detector, daily tallies, periods, stored verdicts,
the watcher and sweep, alerts and the manager's board.

`feeds.velocity.assess` and `feeds.velocity.ActivityEvent` stay importable here
(benchmarks call them); the detector itself imports only the standard library."""

from feeds.velocity.detector import ActivityEvent, assess

__all__ = ["ActivityEvent", "assess"]
