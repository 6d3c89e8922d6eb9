"""The fields a caller writes on an image (tags, categories, description): one rule each,
declared once, for the requests that create images and for PATCH /v1/images/{id} alike.

Labels (user_tags, categories): at most MAX_LABELS distinct values of 1 to MAX_LABEL_CHARS
characters, each trimmed, with at least one visible character; a value sent twice is kept
once, where it first appears. A description: at most MAX_DESCRIPTION_CHARS characters.
The public contract (app/openapi.yaml) documents the same limits. What counts as visible
text is decided here for prompts too (imagegen.generation).
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator, Field, ValidationInfo

MAX_LABELS = 20
MAX_LABEL_CHARS = 50
MAX_DESCRIPTION_CHARS = 1000


# Spaces, control and format characters (NUL, zero-width space and joiners, BOM): a text
# made only of these says nothing to a model.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})


def has_visible_text(text: str) -> bool:
    return any(unicodedata.category(char) not in _INVISIBLE_CATEGORIES for char in text)


def _labels(values: list[str], info: ValidationInfo) -> list[str]:
    name = info.field_name or "labels"
    labels = list(dict.fromkeys(value.strip() for value in values))
    for label in labels:
        if not 1 <= len(label) <= MAX_LABEL_CHARS or not has_visible_text(label):
            raise ValueError(
                f"each of {name} must be 1 to {MAX_LABEL_CHARS} characters after trimming, "
                "at least one of them visible"
            )
    if len(labels) > MAX_LABELS:
        raise ValueError(f"{name} may hold at most {MAX_LABELS} distinct values")
    return labels


Labels = Annotated[list[str], AfterValidator(_labels)]
Description = Annotated[str, Field(max_length=MAX_DESCRIPTION_CHARS)]
