"""The domain: entities, value objects and the errors a use case can raise.

Nothing here imports Flask, SQLAlchemy, Stripe or any other framework.
"""
