"""Small readers of libcst syntax: dotted names, literals, and call arguments."""

from __future__ import annotations

from typing import List, Optional, Sequence

import libcst as cst

from clip_lint.engine.values import ANY_AXIS


def dotted_name(node: cst.CSTNode) -> Optional[str]:
    """``a.b.c`` for a chain of names and attributes, else None."""
    kind = type(node)  # exact types: isinstance on libcst's abstract nodes is slow, and this runs everywhere
    if kind is cst.Name:
        return node.value  # type: ignore[attr-defined]
    parts: List[str] = []
    while kind is cst.Attribute:
        parts.append(node.attr.value)  # type: ignore[attr-defined]
        node = node.value  # type: ignore[attr-defined]
        kind = type(node)
    if kind is cst.Name:
        parts.append(node.value)  # type: ignore[attr-defined]
        return ".".join(reversed(parts))
    return None


def literal_int(node: Optional[cst.CSTNode]) -> Optional[int]:
    value = constant_of(node)
    return value if type(value) is int else None


def literal_bool(node: Optional[cst.CSTNode]) -> Optional[bool]:
    if type(node) is cst.Name and node.value in ("True", "False"):  # type: ignore[union-attr]
        return node.value == "True"  # type: ignore[union-attr]
    return None


def literal_float(node: Optional[cst.CSTNode]) -> Optional[float]:
    value = constant_of(node) if type(node) in (cst.Integer, cst.Float) else NOT_A_CONSTANT
    return float(value) if type(value) in (int, float) else None  # type: ignore[arg-type]


def literal_string(node: Optional[cst.CSTNode]) -> Optional[str]:
    value = constant_of(node) if type(node) is cst.SimpleString else NOT_A_CONSTANT
    return value if isinstance(value, str) else None


def find_arg(call: cst.Call, position: Optional[int], keywords: Sequence[str]) -> Optional[cst.Arg]:
    """The argument at a position (counting positional ones) or with one of the keywords."""
    return find_arg_in(call.args, position, keywords)


def find_arg_in(args: Sequence[cst.Arg], position: Optional[int], keywords: Sequence[str]) -> Optional[cst.Arg]:
    """``find_arg`` over a list of arguments (a function's, after its input)."""
    positional = [arg for arg in args if arg.keyword is None and not arg.star]
    for arg in args:
        if arg.keyword is not None and arg.keyword.value in keywords:
            return arg
    if position is not None and 0 <= position < len(positional):
        return positional[position]
    return None


def find_parameter(call: cst.Call, parameters: Sequence[str], name: str) -> Optional[cst.Arg]:
    """The argument a call passes for parameter ``name``: by keyword, or at its place in
    ``parameters`` (the positional order; a name not in it is keyword-only)."""
    position = parameters.index(name) if name in parameters else None
    return find_arg(call, position, (name,))


def unpacks_arguments(call: cst.Call) -> bool:
    """``f(*args)`` or ``f(**kwargs)``: which argument is which can't be read."""
    return any(arg.star for arg in call.args)


def axis_of(arg: Optional[cst.Arg]) -> object:
    """The axis an argument names: an int, None (no argument), or ANY_AXIS."""
    if arg is None:
        return None
    if isinstance(arg.value, cst.Name) and arg.value.value == "None":
        return None
    value = literal_int(arg.value)
    if value is not None:
        return value
    if isinstance(arg.value, (cst.Tuple, cst.List)):
        return ANY_AXIS
    return ANY_AXIS


def last_component(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def is_none(node: cst.CSTNode) -> bool:
    return isinstance(node, cst.Name) and node.value == "None"


def literal_sizes(args: Sequence[cst.Arg]) -> Optional[List[Optional[int]]]:
    """The sizes given to ``expand``/``repeat``/``tile``, one per axis: int literals or None.

    As separate arguments or one tuple or list; None when their number is unknown (``*sizes``,
    a variable holding a shape).
    """
    values: Sequence[cst.BaseExpression] = [arg.value for arg in args if arg.keyword is None]
    if any(arg.star for arg in args):
        return None
    if len(values) == 1 and isinstance(values[0], (cst.Tuple, cst.List)):
        elements = values[0].elements
        if any(isinstance(element, cst.StarredElement) for element in elements):
            return None
        values = [element.value for element in elements]
    elif len(values) == 1 and literal_int(values[0]) is None:
        return None
    return [literal_int(value) for value in values]


NOT_A_CONSTANT = object()
_QUOTES = ("\"\"\"", "\'\'\'", "\"", "\'")


def constant_of(node: Optional[cst.CSTNode]) -> object:
    """The value of a literal bool, int, float or string; ``NOT_A_CONSTANT`` for anything else.

    Read from the token's text: libcst's ``evaluated_value`` compiles the literal, which costs
    more than the rest of the analysis of it. It is used only for strings with escapes or prefixes.
    """
    kind = type(node)  # an exact type test: isinstance on libcst's abstract nodes is slow
    try:
        if kind is cst.Name:
            return (node.value == "True") if node.value in ("True", "False") else NOT_A_CONSTANT  # type: ignore
        if kind is cst.Integer:
            return int(node.value.replace("_", ""), 0)  # type: ignore[union-attr]
        if kind is cst.Float:
            return float(node.value.replace("_", ""))  # type: ignore[union-attr]
        if kind is cst.SimpleString:
            return string_value(node)  # type: ignore[arg-type]
        if kind is cst.UnaryOperation and type(node.operator) is cst.Minus:  # type: ignore[union-attr]
            inner = constant_of(node.expression)  # type: ignore[union-attr]
            return -inner if type(inner) in (int, float) else NOT_A_CONSTANT
    except ValueError:  # ``0777``, a float that is not one
        return NOT_A_CONSTANT
    return NOT_A_CONSTANT


def string_value(node: cst.SimpleString) -> object:
    text = node.value
    if "\\" not in text and text[:1] in ("'", '"'):
        for quote in _QUOTES:
            if text.startswith(quote) and text.endswith(quote) and len(text) >= 2 * len(quote):
                return text[len(quote): len(text) - len(quote)]
    value = node.evaluated_value
    return value if isinstance(value, str) else NOT_A_CONSTANT
