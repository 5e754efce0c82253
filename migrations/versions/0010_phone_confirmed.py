"""A number typed into a public web form joins audiences only once its holder confirms it.

Revision ID: 0010_phone_confirmed
Revises: 0006_security

Existing numbers count as confirmed (backfilled with their creation time): they were reachable
before this change and nobody could have confirmed them.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_phone_confirmed"
down_revision = "0009_welfare_tips"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("phone_number", schema=None) as batch_op:
        batch_op.add_column(sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE phone_number SET confirmed_at = created_at WHERE confirmed_at IS NULL")


def downgrade():
    with op.batch_alter_table("phone_number", schema=None) as batch_op:
        batch_op.drop_column("confirmed_at")
