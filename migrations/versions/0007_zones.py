"""Advisory zones: zones and their level history, permits, grace deadlines, reminder rounds; a
person's optional district/commune and last shared location; a check-in answer's coordinates.

Revision ID: 0007_zones
Revises: 0003_message_indexes
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_zones"
down_revision = "0008_reports"
branch_labels = None
depends_on = None


def _tz() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade():
    op.create_table(
        "zone",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("area_code", sa.String(length=8), nullable=False),
        sa.Column("level", sa.Enum("1", "2", "3", "4", "special", name="zonelevel", native_enum=False, length=8), nullable=True),
        sa.Column("effective_from", sa.Date(), nullable=True),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("level_since", _tz(), nullable=True),
        sa.Column("ended_at", _tz(), nullable=True),
        sa.Column("created_at", _tz(), nullable=False),
        sa.Column("updated_at", _tz(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zone")),
        sa.UniqueConstraint("area_code", name=op.f("uq_zone_area_code")),
    )
    op.create_index(op.f("ix_zone_level"), "zone", ["level"], unique=False)
    op.create_table(
        "zone_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=False),
        sa.Column("from_level", sa.Enum("1", "2", "3", "4", "special", name="zonelevel", native_enum=False, length=8), nullable=True),
        sa.Column("to_level", sa.Enum("1", "2", "3", "4", "special", name="zonelevel", native_enum=False, length=8), nullable=True),
        sa.Column("effective_from", sa.Date(), nullable=True),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("status", sa.Enum("pending", "applied", "rejected", name="changestatus", native_enum=False, length=16), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("requested_at", _tz(), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", _tz(), nullable=True),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["alert_id"], ["alert.id"], name=op.f("fk_zone_change_alert_id_alert"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["decided_by_id"], ["user.id"], name=op.f("fk_zone_change_decided_by_id_user"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["requested_by_id"], ["user.id"], name=op.f("fk_zone_change_requested_by_id_user"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["zone_id"], ["zone.id"], name=op.f("fk_zone_change_zone_id_zone"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zone_change")),
    )
    op.create_index(op.f("ix_zone_change_alert_id"), "zone_change", ["alert_id"], unique=False)
    op.create_index(op.f("ix_zone_change_zone_id"), "zone_change", ["zone_id"], unique=False)
    op.create_table(
        "zone_permit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=False),
        sa.Column("revoked_at", _tz(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", _tz(), nullable=False),
        sa.Column("updated_at", _tz(), nullable=False),
        sa.ForeignKeyConstraint(["created_by_id"], ["user.id"], name=op.f("fk_zone_permit_created_by_id_user"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"], name=op.f("fk_zone_permit_person_id_person"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["zone_id"], ["zone.id"], name=op.f("fk_zone_permit_zone_id_zone"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zone_permit")),
    )
    op.create_index(op.f("ix_zone_permit_person_id"), "zone_permit", ["person_id"], unique=False)
    op.create_index(op.f("ix_zone_permit_valid_to"), "zone_permit", ["valid_to"], unique=False)
    op.create_index(op.f("ix_zone_permit_zone_id"), "zone_permit", ["zone_id"], unique=False)
    op.create_table(
        "zone_grace",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("note", sa.String(length=300), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", _tz(), nullable=False),
        sa.Column("updated_at", _tz(), nullable=False),
        sa.ForeignKeyConstraint(["created_by_id"], ["user.id"], name=op.f("fk_zone_grace_created_by_id_user"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"], name=op.f("fk_zone_grace_person_id_person"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["zone_id"], ["zone.id"], name=op.f("fk_zone_grace_zone_id_zone"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zone_grace")),
    )
    op.create_index(op.f("ix_zone_grace_ends_on"), "zone_grace", ["ends_on"], unique=False)
    op.create_index(op.f("ix_zone_grace_person_id"), "zone_grace", ["person_id"], unique=False)
    op.create_index(op.f("ix_zone_grace_zone_id"), "zone_grace", ["zone_id"], unique=False)
    op.create_table(
        "zone_reminder",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("permit_id", sa.Integer(), nullable=True),
        sa.Column("grace_id", sa.Integer(), nullable=True),
        sa.Column("days_before", sa.Integer(), nullable=False),
        sa.Column("created_at", _tz(), nullable=False),
        sa.ForeignKeyConstraint(["grace_id"], ["zone_grace.id"], name=op.f("fk_zone_reminder_grace_id_zone_grace"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["permit_id"], ["zone_permit.id"], name=op.f("fk_zone_reminder_permit_id_zone_permit"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zone_reminder")),
        sa.UniqueConstraint("key", name=op.f("uq_zone_reminder_key")),
    )
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.add_column(sa.Column("area_code", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("located_area_code", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("located_province_code", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("located_at", _tz(), nullable=True))
        batch_op.create_index(batch_op.f("ix_person_area_code"), ["area_code"], unique=False)
    with op.batch_alter_table("checkin_response", schema=None) as batch_op:
        batch_op.add_column(sa.Column("latitude", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("longitude", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("accuracy_m", sa.Float(), nullable=True))


def downgrade():
    with op.batch_alter_table("checkin_response", schema=None) as batch_op:
        batch_op.drop_column("accuracy_m")
        batch_op.drop_column("longitude")
        batch_op.drop_column("latitude")
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_person_area_code"))
        batch_op.drop_column("located_at")
        batch_op.drop_column("located_province_code")
        batch_op.drop_column("located_area_code")
        batch_op.drop_column("area_code")
    op.drop_table("zone_reminder")
    for index in ("ix_zone_grace_zone_id", "ix_zone_grace_person_id", "ix_zone_grace_ends_on"):
        op.drop_index(op.f(index), table_name="zone_grace")
    op.drop_table("zone_grace")
    for index in ("ix_zone_permit_zone_id", "ix_zone_permit_valid_to", "ix_zone_permit_person_id"):
        op.drop_index(op.f(index), table_name="zone_permit")
    op.drop_table("zone_permit")
    op.drop_index(op.f("ix_zone_change_zone_id"), table_name="zone_change")
    op.drop_index(op.f("ix_zone_change_alert_id"), table_name="zone_change")
    op.drop_table("zone_change")
    op.drop_index(op.f("ix_zone_level"), table_name="zone")
    op.drop_table("zone")
