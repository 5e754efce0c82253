"""Trigram indexes for the staff registry search (PostgreSQL only; nothing on SQLite).

The search looks for substrings (``name_ko LIKE '%길동%'``, ``name_latin ILIKE '%gil%'``), which no
B-tree can answer; a GIN index with ``gin_trgm_ops`` can, for LIKE and ILIKE alike (trigrams are
case-folded, the match is rechecked), and also for patterns anchored at one end (``'길동%'``,
``'%길동'``), which is how two-syllable Hangul words are searched. The indexes are named ``ix_trgm_*``, which the migration environment
leaves out of the model comparison (the models cannot describe them portably).

Revision ID: 0002_person_search
Revises: 0001_initial
"""

from alembic import op

revision = "0002_person_search"
down_revision = "0001_initial"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_trgm_person_name_ko": "person USING gin (name_ko gin_trgm_ops)",
    "ix_trgm_person_name_latin": "person USING gin (name_latin gin_trgm_ops)",
    "ix_trgm_person_email": "person USING gin (email gin_trgm_ops)",
    "ix_trgm_phone_number_e164": "phone_number USING gin (e164 gin_trgm_ops)",
}


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    # pg_trgm is a trusted extension (PostgreSQL 13+): the database owner may create it.
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, definition in INDEXES.items():
        op.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {definition}")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
