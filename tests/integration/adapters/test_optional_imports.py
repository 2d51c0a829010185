"""import_without: a library imported with an optional dependency hidden, and only then."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from webapp.infrastructure.optional_imports import import_without

LIBRARY = """
try:
    import optional_dep
except ModuleNotFoundError:
    optional_dep = None
"""


@pytest.fixture
def modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    (tmp_path / "some_library.py").write_text(LIBRARY)
    (tmp_path / "optional_dep.py").write_text("LOADED = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    for name in ("some_library", "optional_dep"):
        sys.modules.pop(name, None)


def test_the_dependency_is_hidden_from_the_library_and_importable_afterwards(modules):
    library = import_without("some_library", "optional_dep")
    assert library.optional_dep is None
    assert "optional_dep" not in sys.modules
    import optional_dep

    assert optional_dep.LOADED


def test_a_dependency_already_loaded_is_left_to_the_library(modules):
    import optional_dep

    library = import_without("some_library", "optional_dep")
    assert library.optional_dep is optional_dep


def test_the_dependency_is_unhidden_when_the_import_fails(modules, tmp_path):
    (tmp_path / "broken_library.py").write_text("import optional_dep\n")
    with pytest.raises(ModuleNotFoundError):
        import_without("broken_library", "optional_dep")
    assert "optional_dep" not in sys.modules
    sys.modules.pop("broken_library", None)
