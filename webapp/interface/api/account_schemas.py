"""Bodies of the address-change, export and deletion endpoints (pydantic; OpenAPI)."""

from __future__ import annotations

from datetime import datetime

from webapp.interface.api.model import Field
from webapp.interface.api.schemas import In, Out

CODE = Field(None, description="The 6-digit code sent to the new address.",
             examples=["123456"])


class NewEmailIn(In):
    new_email: str | None = Field(description="The new address; empty removes the email "
                                  "(only while a proven phone stays).",
                                  examples=["jane.new@example.com"])


class NewPhoneIn(In):
    new_phone: str | None = Field(description="The new number (E.164, or national with the "
                                  "default region); empty removes the phone (only while a "
                                  "proven email stays).", examples=["+14155550199"])


class ChangeConfirmIn(In):
    token: str | None = Field(None, description="The token of the emailed link "
                              "(``/account/email/confirm/<token>``).")
    code: str | None = CODE


class PhoneConfirmIn(In):
    code: str = Field(description="The 6-digit code sent by SMS to the new number.",
                      examples=["123456"])


class UndoIn(In):
    token: str = Field(description="The token of the undo link (``/account/undo/<token>``) "
                       "sent to the previous address.")
    new_password: str
    confirm_password: str


class CancelIn(In):
    token: str = Field(description="The token of the cancel link "
                       "(``/account/delete/cancel/<token>``).")


class DeletionOut(Out):
    detail: str
    erase_at: datetime | None = Field(description="When the account is erased; null: it "
                                      "already is (ACCOUNT_DELETION_GRACE=0, unless a job "
                                      "was sending its data to Stripe: then within a "
                                      "minute).")
