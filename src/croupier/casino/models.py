"""Tables of the casino projection."""

from __future__ import annotations
