"""The WSGI entry point: ``gunicorn wsgi:app`` or ``flask --app wsgi run``."""

import os

from webapp import create_app
from webapp.config import ConfigError

try:
    app = create_app()
except ConfigError as exc:
    if os.environ.get("FLASK_RUN_FROM_CLI") != "true":
        raise  # gunicorn: the worker does not boot, and its log says why
    import click

    # A `flask` command: the problems, said as any refused command says them; no traceback.
    raise click.ClickException(str(exc)) from None
