"""Adapters: SQLAlchemy, argon2, itsdangerous, pyjwt, Flask-Mail, SMS gateways, Stripe."""
