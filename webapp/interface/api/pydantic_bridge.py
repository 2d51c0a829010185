"""The pydantic model of a body declared in model.py: same name, module, fields and
configuration. Loaded with pydantic, the first time a body needs it."""

from __future__ import annotations

import types
import typing
from typing import Any

import pydantic

from webapp.interface.api.declared import MISSING, FieldSpec, hints_of


def build(cls: type, schema: type, root_model: type) -> type:
    """``cls``, a subclass of model.py's ``schema`` (or of its ``root_model``)."""
    if cls in (schema, root_model):
        return pydantic.BaseModel
    parent = cls.__mro__[1]
    if "__root_type__" in parent.__dict__ and parent is not root_model:
        base: type = pydantic.RootModel[_translate(parent.__root_type__, schema)]  # type: ignore[misc]
    else:
        base = parent.pydantic()  # type: ignore[attr-defined]
    own = [name for name in cls.__dict__.get("__annotations__", {}) if name in cls.model_fields]
    hints = hints_of(cls)
    namespace: dict[str, Any] = {
        "__module__": cls.__module__, "__qualname__": cls.__qualname__,
        "__doc__": cls.__dict__.get("__doc__"),
        "__annotations__": {name: _translate(hints[name], schema) for name in own},
    }
    if "model_config" in cls.__dict__:
        namespace["model_config"] = pydantic.ConfigDict(**cls.model_config)  # type: ignore[typeddict-item]
    for name in own:
        spec = cls.__dict__.get(name, MISSING)
        if isinstance(spec, FieldSpec):
            namespace[name] = pydantic.Field(*spec.args, **spec.kwargs)
        elif spec is not MISSING:
            namespace[name] = spec
    return type(cls.__name__, (base,), namespace)


def _translate(hint: Any, schema: type) -> Any:
    """``hint`` with every Schema class replaced by its pydantic model."""
    if isinstance(hint, type) and issubclass(hint, schema):
        return hint.pydantic()
    args = typing.get_args(hint)
    origin = typing.get_origin(hint)
    if not args or origin is typing.Literal:
        return hint
    translated = tuple(_translate(a, schema) for a in args)
    if origin in (typing.Union, types.UnionType):
        return typing.Union[translated]  # noqa: UP007
    return origin[translated]


def as_pydantic(value: Any, schema: type) -> Any:
    """A value for a pydantic model: Schema instances as their pydantic models."""
    if isinstance(value, schema):
        if value._model is None:  # noqa: SLF001
            value._model = type(value).pydantic()(  # noqa: SLF001
                **{name: as_pydantic(getattr(value, name), schema) for name in value.model_fields})
        return value._model  # noqa: SLF001
    if isinstance(value, list):
        return [as_pydantic(v, schema) for v in value]
    return value
