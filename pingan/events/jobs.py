"""Periodic jobs of the closed loop (registered at start-up)."""

from __future__ import annotations
