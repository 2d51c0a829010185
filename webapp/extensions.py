"""Unbound extension instances; ``create_app`` binds them with ``init_app``.

Flask-Migrate is not here: it is bound only for the ``flask`` command line
(see ``register_migrations``), so app servers do not load Alembic. Nor is Flask-Mail:
webapp/infrastructure/smtp.py sets it up with the first email a process sends.
"""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
