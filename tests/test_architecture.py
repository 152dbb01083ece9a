"""The dependency direction of docs/architecture.md, checked on every run."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# loadtests may use the app's packages but never the tests: shared helpers live in
# loadtests/ (e.g. loadtests/pg_private.py) and the tests import them from there.
FORBIDDEN = {"feeds": {"server", "search"}, "search": {"server"}, "loadtests": {"tests"}}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_does_not_import_upward(package: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) & FORBIDDEN[package])
        for path in (ROOT / package).rglob("*.py")
        if imported_packages(path) & FORBIDDEN[package]
    }
    assert offenders == {}


def test_feeds_does_not_depend_on_the_web_framework() -> None:
    offenders = [
        str(p) for p in (ROOT / "feeds").rglob("*.py") if "starlette" in imported_packages(p)
    ]
    assert offenders == []


def test_velocity_detector_imports_only_the_standard_library() -> None:
    """The detector stays a pure function: benchmarks and the sweep rely on it."""
    import sys

    def outside_stdlib(path: Path) -> set[str]:
        return {n for n in imported_packages(path) if n not in sys.stdlib_module_names}

    # The detector's one import of ours is the closed sets (feeds.kinds), itself pure.
    assert outside_stdlib(ROOT / "feeds" / "velocity" / "detector.py") == {"feeds"}
    tree = ast.parse((ROOT / "feeds" / "velocity" / "detector.py").read_text())
    ours = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert {m for m in ours if m.startswith("feeds")} == {"feeds.kinds"}
    assert outside_stdlib(ROOT / "feeds" / "kinds.py") == set()


def test_silence_detector_imports_only_the_standard_library_and_the_event_type() -> None:
    """The silence detector is pure too: stdlib, the closed sets and velocity's event type."""
    import sys

    path = ROOT / "feeds" / "silence" / "detector.py"
    outside = {n for n in imported_packages(path) if n not in sys.stdlib_module_names}
    assert outside == {"feeds"}
    tree = ast.parse(path.read_text())
    ours = {
        (node.module, alias.name)
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("feeds")
        for alias in node.names
    }
    allowed = {("feeds.velocity.detector", "ActivityEvent")}
    assert {pair for pair in ours if pair[0] != "feeds.kinds"} <= allowed
    # The package's __init__ re-exports the detector and imports nothing else.
    init = ROOT / "feeds" / "silence" / "__init__.py"
    init_imports = {
        node.module
        for node in ast.walk(ast.parse(init.read_text()))
        if isinstance(node, ast.ImportFrom)
    }
    assert init_imports == {"feeds.silence.detector"}


def test_benchmarks_find_the_silence_detector_by_its_path() -> None:
    from feeds.silence import assess
    from feeds.silence.detector import assess as detect

    assert assess is detect


def test_benchmarks_find_the_detector_by_its_old_names() -> None:
    from feeds.velocity import ActivityEvent, assess
    from feeds.velocity.detector import ActivityEvent as Event
    from feeds.velocity.detector import assess as detect

    assert (ActivityEvent, assess) == (Event, detect)


PRIVATE_TORTOISE = ("._meta", "_init_from_db", '"_pool"', "._connection")


def test_tortoise_private_api_stays_in_one_adapter() -> None:
    """`_meta`, `_init_from_db` and a client's `_pool`/`_connection` change between Tortoise
    releases: one module uses them."""
    allowed = {ROOT / "feeds" / "raw_sql.py"}
    offenders = [
        str(path.relative_to(ROOT))
        for package in ("feeds", "server", "search")
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts
        and path not in allowed
        and any(name in path.read_text() for name in PRIVATE_TORTOISE)
    ]
    assert offenders == []


def test_forms_are_read_through_the_one_checked_reader() -> None:
    """server.endpoints.read_form (and server.uploads.read_upload, for the routes that
    take a file) refuse text that cannot be stored (NUL, lone surrogates) with a 422; a
    route reading request.form() itself would skip that."""
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "server").rglob("*.py")
        if path.name not in {"endpoints.py", "uploads.py"} and "request.form(" in path.read_text()
    ]
    assert offenders == []
