from __future__ import annotations

from typing import Any

from django import template
from django.utils.formats import number_format

register = template.Library()


@register.filter
def figure(value: Any, key: str = "") -> str:
    """A figure for people: rates as percentages with one decimal, counts with thousands separators,
    a dash when there is nothing to divide by."""
    if value is None:
        return "—"
    if key.endswith("_rate"):
        return f"{number_format(value * 100, decimal_pos=1)}%"
    return number_format(value, force_grouping=True)


@register.filter
def get(mapping: Any, key: str) -> Any:
    return mapping.get(key) if hasattr(mapping, "get") else None
