"""Column types shared by the tables: aware UTC datetimes, and the prefix-search operator."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Table, TypeDecorator, event
from sqlalchemy.engine import Dialect


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in Python; timestamptz on PostgreSQL, naive UTC on SQLite."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


PATTERN_OPS = "text_pattern_ops"  # PostgreSQL: lets LIKE 'prefix%' use the index


def pattern_ops_on_postgresql(table: Table, columns: dict[str, str]) -> None:
    """Index ``name`` -> its column (or label): ``postgresql_ops={column: PATTERN_OPS}``,
    given to those indexes of ``table`` when it is created on PostgreSQL (``create_all``).

    Not given in ``Index(...)`` itself: naming a ``postgresql_`` option there loads
    SQLAlchemy's PostgreSQL dialect (every driver of it: ~2 MiB per process) when the
    model is imported, SQLite servers included. The migrations name the operator class
    themselves, and autogenerate does not compare it."""

    def add_ops(target: Table, connection: Any, **_: Any) -> None:
        if connection.dialect.name != "postgresql":
            return
        for index in target.indexes:
            if index.name in columns:
                index.dialect_options["postgresql"]["ops"] = {columns[index.name]: PATTERN_OPS}

    event.listen(table, "before_create", add_ops)
