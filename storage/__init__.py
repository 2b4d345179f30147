"""Persistence: SQLModel tables, engine, migrations, the work queue, outbox and inbox."""
