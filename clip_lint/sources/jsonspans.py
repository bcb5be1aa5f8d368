"""Where each value of a JSON text lies, so a notebook can be edited without re-serializing it.

``json.loads`` gives values but no positions. Rewriting a notebook through ``json.dumps``
would change its whitespace, key order or escapes, and outputs and metadata must stay
byte-for-byte. This parser records the span of every value and leaves the decoding of
strings and numbers to the ``json`` module's own scanners.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from json.decoder import scanstring  # type: ignore[attr-defined]
from typing import Dict, List, Optional, Tuple, Union

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?")
# json.loads also accepts NaN and the infinities, so a notebook holding them is still read
_LITERALS = {
    "true": True, "false": False, "null": None,
    "NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf"),
}  # fmt: skip


@dataclass
class Span:
    """A JSON value: its decoded value (for scalars) and its [start, end) offsets."""

    start: int
    end: int
    value: object = None
    items: Optional[List["Span"]] = None
    members: Optional[Dict[str, "Span"]] = field(default=None)

    def get(self, key: Union[str, int]) -> Optional["Span"]:
        """The member ``key`` of an object or the element ``key`` of an array, if present."""
        if isinstance(key, str) and self.members is not None:
            return self.members.get(key)
        if isinstance(key, int) and self.items is not None and 0 <= key < len(self.items):
            return self.items[key]
        return None


def parse_spans(text: str) -> Span:
    """Parse ``text`` as one JSON document; raises ``json.JSONDecodeError`` when it isn't."""
    json.loads(text)  # the reference decoder decides validity and words the error
    span, end = _value(text, _skip(text, 0))
    return span


def _skip(text: str, index: int) -> int:
    return _WHITESPACE.match(text, index).end()  # type: ignore[union-attr]


def _value(text: str, index: int) -> Tuple[Span, int]:
    char = text[index]
    if char == "{":
        return _object(text, index)
    if char == "[":
        return _array(text, index)
    if char == '"':
        value, end = scanstring(text, index + 1)
        return Span(index, end, value), end
    for word, literal in _LITERALS.items():
        if text.startswith(word, index):
            return Span(index, index + len(word), literal), index + len(word)
    match = _NUMBER.match(text, index)
    if match is None:
        raise json.JSONDecodeError("Expecting value", text, index)
    return Span(index, match.end(), json.loads(match.group())), match.end()


def _object(text: str, index: int) -> Tuple[Span, int]:
    start = index
    members: Dict[str, Span] = {}
    index = _skip(text, index + 1)
    while text[index] != "}":
        key, index = scanstring(text, index + 1)
        index = _skip(text, index)
        index = _skip(text, index + 1)  # the colon
        members[key], index = _value(text, index)
        index = _skip(text, index)
        if text[index] == ",":
            index = _skip(text, index + 1)
    return Span(start, index + 1, members=members), index + 1


def _array(text: str, index: int) -> Tuple[Span, int]:
    start = index
    items: List[Span] = []
    index = _skip(text, index + 1)
    while text[index] != "]":
        item, index = _value(text, index)
        items.append(item)
        index = _skip(text, index)
        if text[index] == ",":
            index = _skip(text, index + 1)
    return Span(start, index + 1, items=items), index + 1
