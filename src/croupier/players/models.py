"""Tables of the players projection."""

from __future__ import annotations
