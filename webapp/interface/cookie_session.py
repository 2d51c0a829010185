"""Flask's signed-cookie session, without its cost on requests that carry no cookie.

Flask builds an itsdangerous serializer (key derivation included) on every request
before it even looks for the cookie. API requests authenticate with a bearer token
and carry no session cookie, so here a request without the cookie gets a new empty
session at once; one with the cookie is read exactly as Flask reads it.
"""

from __future__ import annotations

from flask import Flask, Request, Response
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin


class LazySecureCookieSessionInterface(SecureCookieSessionInterface):
    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and ("HTTP_COOKIE" not in request.environ  # no cookie at all
                               or not request.cookies.get(self.get_cookie_name(app))):
            return self.session_class()  # what Flask returns for a missing cookie
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if not session and not session.modified:  # Flask would set and delete nothing
            if session.accessed:
                response.vary.add("Cookie")
            return
        super().save_session(app, session, response)
