"""The JSON API's bodies, declared like pydantic models and built as pydantic models only
when one is needed.

pydantic with its models costs a worker about 8 MiB (its modules, the models' validators,
the pages of its Rust extension). The bodies that the busiest endpoints read and write
(login, registration, ``/me``) need none of it: a body whose every field arrives valid
(a string within its length, null where allowed, a default where missing) is checked
here, and an answer whose every value already has its declared type is written here,
with exactly pydantic's JSON. Anything else (a wrong or missing field, a value pydantic
would convert, a type not handled here) goes to the equivalent pydantic model, built on
first use with the same names, fields, defaults and configuration, which validates and
serialises it, and which the OpenAPI document describes. tests/unit/test_api_model.py
checks that both ways give the same answer.
"""

from __future__ import annotations

import json
import sys
import types
import typing
from datetime import datetime, timedelta
from typing import Any

from webapp.domain.errors import ValidationFailed
from webapp.interface.api.declared import MISSING, FieldSpec, hints_of
from webapp.interface.api.declared import Field as Field  # the schemas declare with it

ConfigDict = dict
ZERO = timedelta(0)
ERRORS = {"missing": "This field is required.", "string_type": "Must be a string.",
          "string_too_long": "Too long."}


class Schema:
    """A body: declared fields, values as attributes, ``model_dump_json``."""

    model_config: dict[str, Any] = {}  # noqa: RUF012  (as pydantic's)
    model_fields: dict[str, Any] = {}  # noqa: RUF012
    _pydantic: type | None = None
    _fast: list[tuple[str, Any, bool, Any, int]] | bool | None = None
    _model: Any = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = [name for name in cls.__dict__.get("__annotations__", {})
               if not name.startswith("_")]
        cls.model_fields = {**cls.model_fields,
                            **{name: cls.__dict__.get(name, MISSING) for name in own}}
        cls._pydantic = None
        cls._fast = None

    def __init__(self, **values: Any) -> None:
        checked = _checked(type(self), values)
        if checked is None:
            from webapp.interface.api.pydantic_bridge import as_pydantic

            self._model = type(self).pydantic()(
                **{k: as_pydantic(v, Schema) for k, v in values.items()})
            checked = {name: getattr(self._model, name) for name in self.model_fields}
        self.__dict__.update(checked)

    @classmethod
    def model_validate(cls, data: dict[str, Any]) -> Schema:
        """As pydantic's; a body that is not plainly valid is validated by pydantic."""
        checked = _checked(cls, data)
        if checked is None:
            model = cls.pydantic().model_validate(data)
            checked = {name: getattr(model, name) for name in cls.model_fields}
        body = cls.__new__(cls)
        body.__dict__.update(checked)
        return body

    def model_dump_json(self) -> str:
        if self._model is not None:
            return str(self._model.model_dump_json())
        values = self.__dict__
        parts = []
        for name in self.model_fields:
            value = values[name]
            kind = type(value)
            if kind is str:
                parts.append(f'"{name}":{_STRING(value)}')
            elif value is None:
                parts.append(f'"{name}":null')
            elif kind is bool:
                parts.append(f'"{name}":{"true" if value else "false"}')
            elif kind is int:
                parts.append(f'"{name}":{int.__repr__(value)}')
            elif kind is datetime:
                parts.append(f'"{name}":"{_datetime(value)}"')
            else:
                parts.append(f'"{name}":{_DUMP(value)}')
        return "{" + ",".join(parts) + "}"

    def _values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields}

    @classmethod
    def pydantic(cls) -> type:
        """The equivalent pydantic model (built once)."""
        if cls.__dict__.get("_pydantic") is None:
            from webapp.interface.api.pydantic_bridge import build

            cls._pydantic = build(cls, Schema, RootModel)
        return cls._pydantic  # type: ignore[return-value]


class RootModel(Schema):
    """pydantic's ``RootModel[T]``: always validated and written by pydantic."""

    __root_type__ = None

    def __class_getitem__(cls, root: Any) -> type:
        return type("RootModel", (RootModel,), {"__root_type__": root,
                                                "__module__": __name__})

    def __init__(self, root: Any) -> None:
        from webapp.interface.api.pydantic_bridge import as_pydantic

        self._model = type(self).pydantic()(as_pydantic(root, Schema))
        self.root = self._model.root


def parse(model: type[Schema], data: dict[str, Any]) -> Schema:
    """``data`` as ``model``, or ValidationFailed with the message of every field."""
    try:
        return model.model_validate(data)
    except ValueError as exc:  # pydantic's ValidationError
        if not hasattr(exc, "errors"):
            raise
        raise ValidationFailed(_field_errors(exc)) from exc


def _field_errors(exc: Any) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for error in exc.errors(include_url=False, include_input=False):
        name = str(error["loc"][0]) if error["loc"] else "body"
        errors.setdefault(name, []).append(ERRORS.get(error["type"], error["msg"]))
    return errors


# The plainly valid values: (name, kind, optional, default, max length) per field.

def _plan(cls: type[Schema]) -> list[tuple[str, Any, bool, Any, int]] | None:
    if cls.__dict__.get("_fast") is None:
        cls._fast = _make_plan(cls) if not issubclass(cls, RootModel) else False
    return cls._fast if isinstance(cls._fast, list) else None


def _make_plan(cls: type[Schema]) -> list[tuple[str, Any, bool, Any, int]] | bool:
    hints = hints_of(cls)
    limit = cls.model_config.get("str_max_length") or sys.maxsize
    plan = []
    for name, spec in cls.model_fields.items():
        kind, optional = _kind(hints[name])
        default = spec.default if isinstance(spec, FieldSpec) else spec
        extra = set(spec.kwargs) - {"default", "description", "examples", "max_length"} \
            if isinstance(spec, FieldSpec) else set()
        if kind is None or extra or not (default is MISSING or default in (None, False, True)):
            return False
        size = spec.kwargs.get("max_length", limit) if isinstance(spec, FieldSpec) else limit
        plan.append((name, kind, optional, default, min(size, limit)))
    return plan


def _kind(hint: Any) -> tuple[Any, bool]:
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and len(args) == 2 \
            and type(None) in args:
        return _kind(next(a for a in args if a is not type(None)))[0], True
    if hint in (str, int, bool, datetime):
        return hint, False
    if isinstance(hint, type) and issubclass(hint, Schema) and not issubclass(hint, RootModel):
        return hint, False
    if typing.get_origin(hint) is list and args == (str,):
        return list, False
    return None, False


def _checked(cls: type[Schema], values: Any) -> dict[str, Any] | None:
    """The values, when every declared field has a plainly valid one; else None."""
    plan = _plan(cls)
    if plan is None or not isinstance(values, dict):
        return None
    if cls.model_config.get("extra") == "forbid" and not values.keys() <= cls.model_fields.keys():
        return None
    checked = {}
    for name, kind, optional, default, size in plan:
        value = values.get(name, MISSING)
        if value is MISSING:
            if default is MISSING:
                return None
            value = default
        elif value is None:
            if not optional:
                return None
        elif kind is int or kind is bool:
            if type(value) is not kind:
                return None
        elif not _plain(value, kind, size):
            return None
        checked[name] = value
    return checked


def _plain(value: Any, kind: Any, size: int) -> bool:
    if kind is str:
        return type(value) is str and len(value) <= size and _utf8(value)
    if kind is list:
        return type(value) is list and all(type(v) is str and _utf8(v) for v in value)
    if kind is datetime:
        if type(value) is not datetime:
            return False
        offset = value.utcoffset()  # whole minutes, as pydantic writes it
        return offset is None or not (offset.microseconds or offset.seconds % 60)
    return type(value) is kind


def _utf8(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: pydantic's own error or conversion
        return False
    return True


def _datetime(value: datetime) -> str:
    """ISO 8601, UTC as ``Z``: as pydantic writes it."""
    text = value.isoformat()
    return f"{text[:-6]}Z" if value.utcoffset() == ZERO else text


def _json_default(value: Any) -> Any:
    """What ``json`` cannot write itself: a nested body, a date and time (as pydantic)."""
    if isinstance(value, Schema):
        if value._model is not None:  # noqa: SLF001
            return json.loads(value.model_dump_json())
        return value._values()  # noqa: SLF001
    if type(value) is datetime:
        return _datetime(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# Compact, UTF-8 as is, with JSON's escapes: as pydantic writes JSON. Field names are
# identifiers: written as they are.
_DUMP = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"),
                         default=_json_default).encode
_STRING = json.encoder.encode_basestring
