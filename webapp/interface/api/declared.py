"""What a body's declaration is made of (model.py builds on it, and so does the pydantic
model built from it, in pydantic_bridge.py)."""

from __future__ import annotations

import sys
from typing import Any

MISSING: Any = object()


class FieldSpec:
    """``Field(...)``'s arguments, handed to pydantic's ``Field`` when the model is built."""

    __slots__ = ("args", "kwargs")

    def __init__(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.args, self.kwargs = args, kwargs

    @property
    def default(self) -> Any:
        return self.args[0] if self.args else self.kwargs.get("default", MISSING)


def Field(*args: Any, **kwargs: Any) -> Any:  # noqa: N802  (pydantic's name)
    return FieldSpec(args, kwargs)


def hints_of(cls: Any) -> dict[str, Any]:
    """The declared fields' types (annotations are strings: evaluated in their module)."""
    hints: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        space = vars(sys.modules[klass.__module__])
        for name, hint in klass.__dict__.get("__annotations__", {}).items():
            if name in cls.model_fields:
                hints[name] = eval(hint, space) if isinstance(hint, str) else hint  # noqa: S307
    return hints
