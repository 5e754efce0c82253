"""Send leases: a running send job's hold on its claimed batch, so a dead job is known within seconds.

``send_lease`` has one row per running batch (renewed by the job every few seconds, deleted when it
ends); ``message.lease_id`` names the lease a ``sending`` message was claimed under. No index on
``message.lease_id``: the sweep reads the few ``sending`` rows through ``ix_message_sending_claimed``.

Revision ID: 0004_send_lease
Revises: 0003_message_indexes
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_send_lease"
down_revision = "0007_zones"
branch_labels = None
depends_on = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "send_lease",
        sa.Column("id", BIGINT, nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_send_lease")),
    )
    op.create_index(op.f("ix_send_lease_expires_at"), "send_lease", ["expires_at"], unique=False)
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lease_id", BIGINT, nullable=True))


def downgrade():
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_column("lease_id")
    op.drop_index(op.f("ix_send_lease_expires_at"), table_name="send_lease")
    op.drop_table("send_lease")
