"""Alembic environment: the URL comes from the Config that store/migrate.py builds."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from signoff.store.db import SQLITE_PRAGMAS
from signoff.store.tables import metadata

config = context.config
url = config.get_main_option("sqlalchemy.url")
assert url, "store/migrate.py sets sqlalchemy.url"
engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
if engine.dialect.name == "sqlite":

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        for pragma in SQLITE_PRAGMAS:
            dbapi_conn.execute(pragma)


with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=engine.dialect.name == "sqlite",  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        if engine.dialect.name == "postgresql":
            # Replicas starting together: one migrates, the others wait and then find it done.
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(5316863)"))
        context.run_migrations()
engine.dispose()
