"""How a view answers: the one map from domain errors to form errors, and htmx-aware replies.

A view calls one service; on a DomainError it hands the error to ``show`` with
the form, which puts the message on the right field (or on the form as a whole)
and picks the status. With htmx (``HX-Request``) only the form's partial is sent
back, so errors appear in place; without JavaScript the whole page is.
"""

from __future__ import annotations

from flask import Response, redirect, render_template, request

from webapp.domain.errors import (
    DomainError,
    InvalidToken,
    NotFound,
    PermissionDenied,
    ServiceUnavailable,
    Throttled,
    ValidationFailed,
)
from webapp.interface.web.forms import WebForm

FORM_INVALID = 422
STATUS_OF: list[tuple[type[DomainError], int]] = [
    (Throttled, 429),
    (PermissionDenied, 403),
    (NotFound, 404),
    (ServiceUnavailable, 503),
]
# A bad or spent code belongs next to the code box, when the form has one.
FIELD_OF: list[tuple[type[DomainError], str]] = [(InvalidToken, "code")]


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def put_error(form: WebForm, exc: DomainError) -> int:
    """Put the error's messages on the form's fields (or the form); return the page status."""
    if isinstance(exc, ValidationFailed):
        for name, messages in exc.errors.items():
            for message in messages:
                _add(form, form.aliases.get(name, name), message)
    else:
        name = next((field for kind, field in FIELD_OF if isinstance(exc, kind)), None)
        _add(form, name, exc.detail)
    return next((status for kind, status in STATUS_OF if isinstance(exc, kind)), FORM_INVALID)


def _add(form: WebForm, name: str | None, message: str) -> None:
    field = form._fields.get(name) if name else None
    if field is None or field.type in ("HiddenField", "CSRFTokenField"):
        target = form.form_errors
    else:
        if not isinstance(field.errors, list):  # a tuple until validation ran
            field.errors = list(field.errors)
        target = field.errors
    if message not in target:
        target.append(message)


def show(template: str, context: dict, *, form: WebForm | None = None,
         partial: str | None = None, error: DomainError | None = None) -> Response:
    """The page (or, for htmx, the submitted form's partial) with the right status."""
    status = 200
    if error is not None and form is not None:
        status = put_error(form, error)
    elif form is not None and form.errors:
        status = FORM_INVALID
    if partial and form is not None and is_htmx():
        response = Response(render_template(partial, **{**context, "form": form}))
        # htmx swaps 422 answers in place (see the htmx-config meta tag); others are errors.
        response.status_code = FORM_INVALID if status >= 400 else status
    else:
        response = Response(render_template(template, **context), status=status)
    if isinstance(error, Throttled):
        response.headers["Retry-After"] = str(error.retry_after)
    response.vary.add("HX-Request")
    return response


def go(location: str) -> Response:
    """Redirect; an htmx request is told to navigate the whole page there."""
    if is_htmx():
        response = Response(status=204)
        response.headers["HX-Redirect"] = location
        return response
    return redirect(location, code=303)
