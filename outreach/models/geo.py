"""Provinces of Cambodia (ISO 3166-2:KH); seed data lives in ``outreach/data/provinces.py``."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import orm as so

from outreach.models.base import Base


class Province(Base):
    __tablename__ = "province"

    #: ISO 3166-2:KH code, e.g. ``KH-12`` for Phnom Penh.
    code: so.Mapped[str] = so.mapped_column(sa.String(8), primary_key=True)
    #: Short number used in SMS menus ("reply 12 for Phnom Penh"); the ISO subdivision number.
    number: so.Mapped[int] = so.mapped_column(unique=True)
    name_ko: so.Mapped[str] = so.mapped_column(sa.String(64))
    name_en: so.Mapped[str] = so.mapped_column(sa.String(64))
    name_km: so.Mapped[str] = so.mapped_column(sa.String(64))

    def name(self, language: str) -> str:
        return {"ko": self.name_ko, "km": self.name_km}.get(language, self.name_en)

    def __repr__(self) -> str:
        return f"<Province {self.code} {self.name_en}>"
