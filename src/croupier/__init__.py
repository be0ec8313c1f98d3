"""Croupier: a player-event platform for online gaming operators."""

__version__ = "0.1.0"
