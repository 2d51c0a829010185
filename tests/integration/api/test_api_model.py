"""The API's bodies checked and written without pydantic (webapp/interface/api/model.py)
answer exactly as their pydantic models do: the same values, the same errors, the same
JSON, byte for byte; what the fast way does not handle goes to pydantic."""

from __future__ import annotations

import importlib
import inspect
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from webapp.domain.errors import ValidationFailed
from webapp.interface.api import model as api_model
from webapp.interface.api.declared import hints_of
from webapp.interface.api.model import RootModel, Schema, parse
from webapp.interface.api.pydantic_bridge import as_pydantic
from webapp.interface.api.schemas import (
    CredentialsIn,
    DetailOut,
    LoginOut,
    RegisterIn,
    TokenPairOut,
    UserOut,
)

MODULES = ["schemas", "account_schemas", "mfa_schemas", "passkey_schemas", "billing",
           "invitations"]


def every_model() -> list[type[Schema]]:
    found = {}
    for name in MODULES:
        module = importlib.import_module(f"webapp.interface.api.{name}")
        for value in vars(module).values():
            if inspect.isclass(value) and issubclass(value, Schema) and value.model_fields \
                    and value.__module__ == module.__name__:
                found[value.__qualname__] = value
    return list(found.values())


REQUESTS = [model for model in every_model() if model.model_config.get("strict")]
ANSWERS = [model for model in every_model() if not model.model_config.get("strict")
           and not issubclass(model, RootModel)]
STRINGS: list[Any] = ["", "jane@example.com", "x" * 4096, "x" * 4097, "x" * 201, "é" * 50,
                      "a\x00b\n\"\\\u2028", "\ud800", 0, 1.5, True, None, [], {}, ["a"]]


def pydantic_answer(model: type[Schema], data: dict[str, Any]) -> Any:
    try:
        parsed = model.pydantic().model_validate(data)
    except ValidationError as exc:
        return api_model._field_errors(exc)  # noqa: SLF001
    return {name: getattr(parsed, name) for name in model.model_fields}


def our_answer(model: type[Schema], data: dict[str, Any]) -> Any:
    try:
        parsed = parse(model, data)
    except ValidationFailed as exc:
        return exc.errors
    return {name: getattr(parsed, name) for name in model.model_fields}


def bodies(model: type[Schema]) -> list[dict[str, Any]]:
    fields = list(model.model_fields)
    out: list[dict[str, Any]] = [{}, {"unknown": 1}, dict.fromkeys(fields, "value")]
    for name in fields:
        out += [{**dict.fromkeys(fields, "ok"), name: value} for value in STRINGS]
        out.append({other: "ok" for other in fields if other != name})
    return out


@pytest.mark.parametrize("model", REQUESTS, ids=lambda m: m.__name__)
def test_a_request_body_gives_what_pydantic_gives(model: type[Schema]) -> None:
    for data in bodies(model):
        assert our_answer(model, data) == pydantic_answer(model, data), data


def test_the_bodies_of_login_and_registration_are_checked_without_pydantic() -> None:
    for model in (CredentialsIn, RegisterIn, UserOut, TokenPairOut, LoginOut, DetailOut):
        assert api_model._plan(model) is not None, model  # noqa: SLF001
    body = parse(RegisterIn, {"email": "jane@example.com", "password": "long enough pw",
                              "extra": [1]})
    assert body._model is None  # noqa: SLF001
    assert (body.email, body.phone, body.password) == ("jane@example.com", None,
                                                       "long enough pw")


TIMES = [datetime(2024, 1, 2, 3, 4, 5), datetime(2024, 1, 2, 3, 4, 5, 120000),
         datetime(2024, 1, 2, 3, 4, 5, 1, tzinfo=UTC), datetime(1, 1, 1),
         datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
         datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(seconds=61))), None]


def user_values(**changes: Any) -> dict[str, Any]:
    return {"id": 7, "email": "jane@example.com", "phone": None, "first_name": "Jané",
            "last_name": "a\x00b\n\"\\\u2028/", "email_verified": True,
            "phone_verified": False, "is_verified": True, "created_at": TIMES[0], **changes}


def same_json(model: type[Schema], values: dict[str, Any]) -> None:
    try:
        expected = model.pydantic()(**{k: as_pydantic(v, Schema) for k, v in values.items()})  # noqa: SLF001
    except ValidationError:
        with pytest.raises(ValidationError):
            model(**values)
        return
    assert written(model(**values)) == written(expected)


def written(answer: Any) -> Any:
    try:
        return answer.model_dump_json()
    except ValueError as exc:  # e.g. a lone surrogate: pydantic cannot write it
        return type(exc)


@pytest.mark.parametrize("changes", [
    *({"created_at": when} for when in TIMES),
    {"id": "7"}, {"id": True}, {"id": 2**70}, {"first_name": None}, {"email": "\ud800"},
    {"created_at": "2024-01-02T03:04:05"}, {"unknown": 1}, {"phone": "+14155550123"},
])
def test_an_answer_is_written_as_pydantic_writes_it(changes: dict[str, Any]) -> None:
    same_json(UserOut, user_values(**changes))
    try:
        user = UserOut(**user_values(**changes))
    except ValidationError:
        return
    same_json(LoginOut, {"tokens": TokenPairOut(access="a.b.c", refresh="d"), "user": user})


@pytest.mark.parametrize("model", ANSWERS, ids=lambda m: m.__name__)
def test_every_answer_with_plain_values_is_written_as_pydantic_writes_it(
        model: type[Schema]) -> None:
    plain = {str: "text é", int: 3, bool: True, datetime: TIMES[2]}
    hints = hints_of(model)
    for optional in (False, True):
        values = {}
        for name in model.model_fields:
            kind, can_be_none = api_model._kind(hints[name])  # noqa: SLF001
            if kind in plain:
                values[name] = None if optional and can_be_none else plain[kind]
            elif kind is list:
                values[name] = ["a", "b"]
        if all(name in values for name in model.model_fields):
            same_json(model, values)
