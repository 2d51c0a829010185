"""GET /healthz: 200 while the database answers, 503 (JSON) when it does not."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError


class UnreachableDatabase:
    """A unit of work whose database does not answer."""

    def __enter__(self) -> UnreachableDatabase:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def ping(self) -> None:
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))


def test_healthz_is_200_when_the_database_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_healthz_is_503_when_the_database_does_not_answer(app, client, monkeypatch):
    monkeypatch.setattr(app.extensions["ports"], "uow", UnreachableDatabase)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.mimetype == "application/json"
    assert response.json["code"] == "unavailable"


def test_healthz_is_503_when_the_engine_cannot_connect(app, client, monkeypatch, tmp_path):
    """The real unit of work on an engine whose database file cannot be opened."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from webapp.infrastructure.uow import SqlAlchemyUnitOfWork

    engine = create_engine(f"sqlite:///{tmp_path}/missing-dir/app.db")
    monkeypatch.setattr(app.extensions["ports"], "uow",
                        lambda: SqlAlchemyUnitOfWork(lambda: Session(engine)))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json["code"] == "unavailable"
    # the operator is told what to look at
    assert response.json["detail"].startswith("The database does not answer")
    assert "DATABASE_URL" in response.json["detail"]
    assert response.headers["Retry-After"] == "5"
    engine.dispose()


def test_healthz_says_to_migrate_a_database_without_the_schema(tmp_path):
    from tests.helpers.app import second_app

    with second_app(f"sqlite:///{tmp_path / 'empty.db'}") as bare:  # never migrated
        response = bare.test_client().get("/healthz")
    assert response.status_code == 503
    assert "db upgrade" in response.json["detail"]
