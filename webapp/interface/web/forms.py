"""Flask-WTF forms of the browser pages.

They carry the CSRF token and the fields, nothing else: every rule (what makes a
valid address, a strong password, a right code) lives in the service layer, which
reports broken rules as a ValidationFailed that ``outcomes.put_error`` puts on the form.
Only sizes are capped here, so that no field can carry megabytes into a service.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, StringField, TelField
from wtforms.validators import DataRequired, EqualTo, Length

from webapp.domain.passwords import MAX_LENGTH, MAX_TYPED, MIN_LENGTH
from webapp.interface.web.safety import safe_next

PASSWORD_HELP = (
    f"At least {MIN_LENGTH} characters (up to {MAX_LENGTH}). Not a common password and not like "
    "your email address or phone number. A few unrelated words make a strong one."
)
SHORT = Length(max=320)
# The service counts characters once normalised (NFKC), so the same password typed
# decomposed (NFD) must get through; far longer is refused here, in the service's words.
PASSWORD = Length(max=MAX_TYPED, message=f"Use at most {MAX_LENGTH} characters.")


def split_identifier(text: str | None) -> tuple[str | None, str | None]:
    """One "email or phone" box as the (email, phone) pair the services take."""
    value = (text or "").strip()
    if not value:
        return None, None
    return (value, None) if "@" in value else (None, value)


class WebForm(FlaskForm):
    """Service fields that this form shows under another name (e.g. email -> identifier)."""

    aliases: dict[str, str] = {}


class IdentifierForm(WebForm):
    """Forms with one "email or phone" box."""

    aliases = {"email": "identifier", "phone": "identifier"}
    identifier = StringField("Email or phone number", validators=[SHORT])

    def email_or_phone(self) -> dict[str, str | None]:
        email, phone = split_identifier(self.identifier.data)
        return {"email": email, "phone": phone}


class SignupForm(WebForm):
    email = EmailField("Email address", validators=[SHORT])
    phone = TelField("Phone number", validators=[SHORT])
    password = PasswordField("Password", validators=[PASSWORD], description=PASSWORD_HELP)
    first_name = StringField("First name", validators=[SHORT])
    last_name = StringField("Last name", validators=[SHORT])


class LoginForm(IdentifierForm):
    password = PasswordField("Password", validators=[PASSWORD])
    # Never refused (a hidden field's error is shown nowhere): what is not a path on
    # this site, one too long included, is dropped and the login goes to the default.
    next = HiddenField(filters=[lambda value: safe_next(value, "")])


class CodeForm(IdentifierForm):
    code = StringField("6-digit code", validators=[Length(max=20)])


class ResendForm(IdentifierForm):
    # Shown on /verify under the code form's own box: an id of its own, so that each
    # label (and each help and error text) belongs to its own input.
    identifier = StringField("Email or phone number", validators=[SHORT],
                             id="resend-identifier")


class ResetRequestForm(IdentifierForm):
    pass


class NewPasswordForm(WebForm):
    new_password = PasswordField("New password", validators=[PASSWORD],
                                 description=PASSWORD_HELP)
    confirm_password = PasswordField("New password again", validators=[PASSWORD])


class ResetCodeForm(CodeForm, NewPasswordForm):
    pass


class ChangePasswordForm(NewPasswordForm):
    current_password = PasswordField("Current password", validators=[PASSWORD])


class ProfileForm(WebForm):
    first_name = StringField("First name", validators=[SHORT])
    last_name = StringField("Last name", validators=[SHORT])


class InvitationForm(WebForm):
    """Accepting an invitation: the invited address is the invitation's, not typed."""

    first_name = StringField("First name", validators=[Length(max=100)])
    last_name = StringField("Last name", validators=[Length(max=100)])
    password = PasswordField("Choose a password", validators=[DataRequired(), PASSWORD])
    confirm_password = PasswordField("Repeat the password", validators=[
        DataRequired(), EqualTo("password", message="The two passwords differ.")])


class ButtonForm(WebForm):
    """A form that is only a button (log out, confirm a link): the CSRF token is its content."""


class SecondFactorForm(WebForm):
    """The second step of a sign-in: a code from the app, or a recovery code."""

    code = StringField("6-digit code from your authenticator app",
                       validators=[Length(max=20)])
    recovery_code = StringField("Recovery code", validators=[Length(max=40)])
    remember = BooleanField("Don't ask again on this browser for 30 days")


class ReauthenticateForm(WebForm):
    password = PasswordField("Password", validators=[PASSWORD])
    code = StringField("Or a 6-digit code from your authenticator app",
                       validators=[Length(max=20)])
    next = HiddenField(filters=[lambda value: safe_next(value, "")])


class TotpConfirmForm(WebForm):
    """The first code from a newly set-up authenticator app: it turns the app on."""

    code = StringField("6-digit code from your authenticator app", validators=[Length(max=20)])
class NewEmailForm(WebForm):
    new_email = EmailField("New email address", validators=[SHORT])


class NewPhoneForm(WebForm):
    new_phone = TelField("New phone number", validators=[SHORT])


class ChangeCodeForm(WebForm):
    code = StringField("6-digit code", validators=[Length(max=20)])


class UndoForm(NewPasswordForm):
    """Taking an address change back: the new password of the account."""
