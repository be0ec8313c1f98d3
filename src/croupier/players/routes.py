"""Read API for casino (being built)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["Players"])
