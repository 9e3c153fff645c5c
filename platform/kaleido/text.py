"""Which strings the database can store.

PostgreSQL refuses NUL in text and jsonb (`\\u0000 cannot be converted to text`), and a lone UTF-16
surrogate cannot be encoded as UTF-8 at all, so a string holding either must be refused where it
enters (a 400 naming the field, or one rejected event), never found out by the INSERT: there it
would fail a whole batch, or a whole journal flush.
"""

from __future__ import annotations


def storable_text_error(value: str) -> str | None:
    """Why the database cannot store `value`, or None when it can."""
    if "\x00" in value:
        return "contains a NUL character, which cannot be stored"
    if value.isascii():  # the common case, without encoding a copy
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate (not valid Unicode), which cannot be stored"
    return None


def is_storable_text(value: str) -> bool:
    return storable_text_error(value) is None
