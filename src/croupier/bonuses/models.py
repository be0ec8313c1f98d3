"""Tables of the bonuses projection."""

from __future__ import annotations
