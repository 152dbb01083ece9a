"""Unusual silence: regular contact from an agency that has stopped.

`feeds.silence.assess` stays importable here (benchmarks call it); the detector itself
imports only the standard library, feeds.kinds and the velocity detector's event type."""

from feeds.silence.detector import SilenceAssessment, assess

__all__ = ["SilenceAssessment", "assess"]
