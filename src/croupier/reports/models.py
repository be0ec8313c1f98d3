"""Tables of the reports projection."""

from __future__ import annotations
