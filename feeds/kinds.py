"""The closed sets of the domain, named once: agency sectors, roles, post kinds.

Standard library only, so the pure velocity detector can use them as well as the
models, the API schemas and the templates.
"""

from __future__ import annotations

from enum import StrEnum


class Sector(StrEnum):
    SOCIAL_CARE = "social_care"
    HEALTH = "health"
    EDUCATION = "education"
    POLICE = "police"
    VOLUNTARY = "voluntary"


class Role(StrEnum):
    PRACTITIONER = "practitioner"
    MANAGER = "manager"
    ADMIN = "admin"


class PostKind(StrEnum):
    UPDATE = "update"
    HUNCH = "hunch"
    CONCERN = "concern"
    VISIT = "visit"
    POSITIVE = "positive"


# The kinds that voice a worry: the detector weighs them, the board counts them.
WORRY_KINDS: frozenset[PostKind] = frozenset({PostKind.HUNCH, PostKind.CONCERN})
