"""Flask-WTF forms of the staff pages (their CSRF token is what protects every action)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, TextAreaField
from wtforms.validators import DataRequired, Length


class ConfirmForm(FlaskForm):
    """A POST that only carries the CSRF token: the confirmation of an action."""


class InviteForm(FlaskForm):
    email = EmailField("Email address", validators=[DataRequired(), Length(max=254)])
    staff = BooleanField("Invite as a staff member")


class ReasonForm(ConfirmForm):
    """The confirmation of an action that needs a reason (the service requires it)."""

    reason = TextAreaField("Reason (kept in the audit log)", validators=[Length(max=2000)])
