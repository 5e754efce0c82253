"""Fewer, partial indexes on ``message``: a 100,000-recipient fan-out writes every index per row.

Measured on the benchmark's 100,000-row INSERT … SELECT (PostgreSQL 15, 2 cores): eight indexes
cost about 1.3 s of its 1.7 s. Now three are written per new alert message (the primary key,
``uq_message_person`` and ``ix_message_source_status``):

- ``uq_message_person`` leads with ``person_id``, so it also serves "this person's messages" and
  ``ix_message_person`` goes;
- ``uq_message_user`` and ``uq_message_provider_sid`` only cover rows that have a user / a sid;
- ``ix_message_status_claimed`` becomes ``ix_message_sending_claimed`` (rows in ``sending``) and
  ``ix_message_retry_due`` (pending retries), the two reconciliation queries;
- ``ix_message_to_address`` goes: no query looks messages up by address alone.

Revision ID: 0003_message_indexes
Revises: 0002_person_search
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_message_indexes"
down_revision = "0002_person_search"
branch_labels = None
depends_on = None


def _partial(where: str) -> dict:
    return {"postgresql_where": sa.text(where), "sqlite_where": sa.text(where)}


def upgrade():
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_index("ix_message_to_address")
        batch_op.drop_index("ix_message_person")
        batch_op.drop_index("ix_message_status_claimed")
        batch_op.drop_constraint("uq_message_person", type_="unique")
        batch_op.drop_constraint("uq_message_user", type_="unique")
        batch_op.drop_constraint("uq_message_provider_sid", type_="unique")
        batch_op.create_unique_constraint(
            "uq_message_person", ["person_id", "source_kind", "source_id", "channel"]
        )
    op.create_index(
        "uq_message_user",
        "message",
        ["source_kind", "source_id", "channel", "user_id"],
        unique=True,
        **_partial("user_id IS NOT NULL"),
    )
    op.create_index(
        "uq_message_provider_sid",
        "message",
        ["provider_sid"],
        unique=True,
        **_partial("provider_sid IS NOT NULL"),
    )
    op.create_index(
        "ix_message_sending_claimed", "message", ["claimed_at"], **_partial("status = 'sending'")
    )
    op.create_index(
        "ix_message_retry_due",
        "message",
        ["next_attempt_at"],
        **_partial("status = 'pending' AND next_attempt_at IS NOT NULL"),
    )


def downgrade():
    op.drop_index("ix_message_retry_due", table_name="message")
    op.drop_index("ix_message_sending_claimed", table_name="message")
    op.drop_index("uq_message_provider_sid", table_name="message")
    op.drop_index("uq_message_user", table_name="message")
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_constraint("uq_message_person", type_="unique")
        batch_op.create_unique_constraint(
            "uq_message_person", ["source_kind", "source_id", "channel", "person_id"]
        )
        batch_op.create_unique_constraint(
            "uq_message_user", ["source_kind", "source_id", "channel", "user_id"]
        )
        batch_op.create_unique_constraint("uq_message_provider_sid", ["provider_sid"])
        batch_op.create_index("ix_message_status_claimed", ["status", "claimed_at"], unique=False)
        batch_op.create_index("ix_message_person", ["person_id"], unique=False)
        batch_op.create_index("ix_message_to_address", ["to_address"], unique=False)
