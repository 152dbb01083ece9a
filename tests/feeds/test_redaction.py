"""feeds/access/redaction.py without a database: names withheld in any text (the word
table finds what the patterns would), and an edit from the withheld text restored."""

from __future__ import annotations

import pytest

from feeds.access.redaction import WITHHELD, Names, Redactor
from feeds.errors import Conflict

AMELIA, NOOR = 1, 2
REDACT = Redactor({AMELIA: Names.of("Amelia Stone", "AS-1"), NOOR: Names.of("Noor Iqbal", "NI-22")})


def test_every_hidden_name_is_withheld_in_any_text() -> None:
    text = "Amelia and NOOR (ni-22) met Stones; amelias"
    assert REDACT(text) == f"{WITHHELD} and {WITHHELD} ({WITHHELD}) met Stones; amelias"
    assert REDACT.named_in(text) == {AMELIA, NOOR}
    assert REDACT("Nothing to see") == "Nothing to see"


@pytest.mark.parametrize("variant", ["AMEL\u0130A", "amel\u0131a", "\u017ftone", "STONE"])
def test_case_variants_the_pattern_matches_are_never_missed(variant: str) -> None:
    """The look-up table folds at least as far as IGNORECASE: whatever the pattern would
    match is searched for."""
    matched = bool(REDACT.hidden[AMELIA].pattern.search(variant))
    assert REDACT.named_in(variant) == ({AMELIA} if matched else set())


def test_a_redactor_limited_to_what_texts_name() -> None:
    assert set(REDACT.only_named_in(["Saw Noor", "nothing"]).hidden) == {NOOR}
    assert not REDACT.only_named_in(["nothing"]).hidden
    assert set(REDACT.except_for({NOOR}).hidden) == {AMELIA}


def test_an_edit_puts_each_withheld_name_back_in_order() -> None:
    stored = f"Amelia saw Noor; typed {WITHHELD} once"
    shown = REDACT(stored)
    assert shown == f"{WITHHELD} saw {WITHHELD}; typed {WITHHELD} once"
    edited = f"Today {WITHHELD} saw {WITHHELD} again; typed {WITHHELD} once"
    assert REDACT.restore(edited, stored) == f"Today Amelia saw Noor again; typed {WITHHELD} once"
    assert REDACT.restore("All new text", "Nothing hidden") == "All new text"
    assert Redactor().restore(f"{WITHHELD} as typed", "Amelia") == f"{WITHHELD} as typed"


@pytest.mark.parametrize(
    "edited",
    [
        "nobody named",  # both dropped
        f"{WITHHELD} alone",  # one dropped
        f"{WITHHELD} {WITHHELD} {WITHHELD}",  # one added
        f"x{WITHHELD} saw {WITHHELD}",  # glued into a word: "xAmelia" would be shown
    ],
)
def test_an_edit_that_loses_or_reveals_a_withheld_name_is_refused(edited: str) -> None:
    with pytest.raises(Conflict) as refused:
        REDACT.restore(edited, "Amelia saw Noor")
    assert "Amelia" not in refused.value.message and "Noor" not in refused.value.message
