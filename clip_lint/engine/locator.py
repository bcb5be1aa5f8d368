"""Positions of the few libcst nodes a report needs, read from Python's ``ast``.

libcst's PositionProvider renders the whole module to find positions (about 1.3 times a
parse). A report needs a handful of nodes, and the ``ast`` of the same text has their
positions: the k-th libcst node of a kind, in source order, is the k-th ``ast`` node of
that kind. Each located node is checked against the text; if any check fails, the
locator falls back to PositionProvider for the module.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from typing import Dict, List, Optional, Tuple

import libcst as cst
from libcst.metadata import CodePosition, CodeRange, MetadataWrapper, PositionProvider

from clip_lint.sources.textedits import split_lines

#: libcst node kinds a report locates, and the ast kinds that correspond to them.
KINDS: Dict[type, type] = {
    cst.Call: ast.Call,
    cst.Attribute: ast.Attribute,
    cst.AugAssign: ast.AugAssign,
    cst.Assign: ast.Assign,
    cst.AnnAssign: ast.AnnAssign,
    cst.Expr: ast.Expr,
    cst.Import: ast.Import,
    cst.ImportFrom: ast.ImportFrom,
}
BINARY_OPERATORS: Dict[type, type] = {cst.MatrixMultiply: ast.MatMult, cst.Divide: ast.Div}
IGNORED_FOR_COMPARISON = re.compile(r"[\s();\\]")

#: Node types whose dataclass fields are not in source order, with their source order.
SOURCE_ORDER: Dict[type, Tuple[str, ...]] = {
    cst.FunctionDef: ("decorators", "name", "type_parameters", "params", "returns", "body"),
    cst.ClassDef: ("decorators", "name", "type_parameters", "bases", "keywords", "body"),
    cst.IfExp: ("body", "test", "orelse"),
    cst.Parameters: ("posonly_params", "params", "star_arg", "kwonly_params", "star_kwarg"),
    cst.ExceptHandler: ("type", "name", "body"),
    cst.ExceptStarHandler: ("type", "name", "body"),
    cst.MatchCase: ("pattern", "guard", "body"),
}
#: Fields that hold only whitespace and punctuation: nothing a report locates.
SKIPPED_FIELDS = frozenset(
    {"lpar", "rpar", "comma", "semicolon", "equal", "colon", "dot", "operator", "leading_lines",
     "lines_after_decorators", "header", "footer", "newline", "indent", "trailing_whitespace",
     "lbracket", "rbracket", "lbrace", "rbrace", "asynchronous", "star", "whitespace"}
)
_FIELDS: Dict[type, Tuple[str, ...]] = {}


def source_order_fields(node_type: type) -> Tuple[str, ...]:
    """The fields of a libcst node type that may hold nodes, in source order."""
    names = _FIELDS.get(node_type)
    if names is None:
        declared = [f.name for f in dataclasses.fields(node_type)]
        ordered = SOURCE_ORDER.get(node_type, tuple(declared))
        names = tuple(
            name for name in ordered
            if name in declared and name not in SKIPPED_FIELDS and not name.startswith("whitespace")
        )
        _FIELDS[node_type] = names
    return names


def children_in_source_order(node: cst.CSTNode) -> List[cst.CSTNode]:
    """The nodes directly below ``node`` that may matter, in source order.

    Reads dataclass fields directly: ``CSTNode.children`` runs a visitor per node and is
    five times slower.
    """
    below: List[cst.CSTNode] = []
    for name in source_order_fields(type(node)):
        value = getattr(node, name)
        kind = type(value)
        if kind is list or kind is tuple:
            below.extend(item for item in value if is_node(item))
        elif is_node(value):
            below.append(value)
    return below


_NODE_TYPES: Dict[type, bool] = {}


def is_node(value: object) -> bool:
    """``isinstance(value, cst.CSTNode)``, by a lookup per type (libcst's nodes are ABCs, whose
    isinstance is slow, and this runs for every child of every node the analysis visits)."""
    kind = type(value)
    known = _NODE_TYPES.get(kind)
    if known is None:
        known = _NODE_TYPES[kind] = issubclass(kind, cst.CSTNode)
    return known


def walk_in_source_order(root: cst.CSTNode):
    """Every node below ``root`` (Import names excepted), parents first, in source order."""
    stack: List[cst.CSTNode] = [root]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, (cst.Import, cst.ImportFrom)):
            continue  # their dotted names are Attributes in libcst, plain strings in ast
        stack.extend(reversed(children_in_source_order(node)))


def kind_key(node: cst.CSTNode) -> Optional[object]:
    if isinstance(node, cst.BinaryOperation):
        return BINARY_OPERATORS.get(type(node.operator))
    return KINDS.get(type(node))


def ast_key(node: ast.AST) -> Optional[object]:
    if isinstance(node, ast.BinOp):
        return type(node.op) if type(node.op) in BINARY_OPERATORS.values() else None
    return type(node) if type(node) in KINDS.values() else None


class Locator:
    """Maps libcst nodes to CodeRanges (1-based lines, 0-based character columns)."""

    def __init__(
        self,
        module: cst.Module,
        text: str,
        tree: Optional[ast.Module] = None,
        tops: Optional[Dict[int, cst.CSTNode]] = None,
    ) -> None:
        self.module = module
        self.text = text
        self.tree = tree  # the ast of exactly ``text``, when the caller has it
        self.tops = tops or {}  # node id -> the top-level statement it lives in
        self.lines = split_lines(text)
        self.fallback: Optional[Dict[cst.CSTNode, CodeRange]] = None
        self.index: Dict[int, ast.AST] = {}
        self.indexed: set = set()  # ids of the top-level statements indexed so far
        self.partners: Optional[Dict[int, List[ast.stmt]]] = None

    def __contains__(self, node: object) -> bool:
        return isinstance(node, cst.CSTNode) and self.get(node) is not None

    def __getitem__(self, node: cst.CSTNode) -> CodeRange:
        where = self.get(node)
        if where is None:
            raise KeyError(node)
        return where

    def get(self, node: cst.CSTNode) -> Optional[CodeRange]:
        if isinstance(node, cst.SimpleStatementLine):
            first, last = self.get(node.body[0]), self.get(node.body[-1])
            if first is None or last is None:
                return self.from_fallback(node)
            return CodeRange(first.start, last.end)
        if self.fallback is None:
            where = self.from_ast(node)
            if where is not None:
                return where
        return self.from_fallback(node)

    def operator_start(self, node: cst.CSTNode) -> Optional[CodePosition]:
        """Where the operator of a binary operation (``@``) or augmented assignment (``@=``) is:
        the first such token between its operands, past comments and parentheses."""
        if isinstance(node, cst.BinaryOperation):
            left_node, right_node = node.left, node.right
        elif isinstance(node, cst.AugAssign):
            left_node, right_node = node.target, node.value
        else:
            return None
        if self.get(node) is None:
            return None
        gap = self.operand_gap(node, left_node, right_node)
        if gap is None:
            return None
        token = "@" if isinstance(node, cst.BinaryOperation) else "@="
        return self.find_token(gap[0], gap[1], token)

    def operand_gap(
        self, node: cst.CSTNode, left_node: cst.CSTNode, right_node: cst.CSTNode
    ) -> Optional[Tuple[CodePosition, CodePosition]]:
        """Where the left operand ends and the right one starts."""
        match = self.index.get(id(node)) if self.fallback is None else None
        if match is not None:
            left, right = (match.left, match.right) if isinstance(match, ast.BinOp) else (
                getattr(match, "target", None), getattr(match, "value", None))
            if left is None or right is None or getattr(left, "end_lineno", None) is None:
                return None
            end = CodePosition(left.end_lineno, self.character_column(left.end_lineno, left.end_col_offset))
            start = CodePosition(right.lineno, self.character_column(right.lineno, right.col_offset))
            return end, start
        left_range, right_range = self.from_fallback(left_node), self.from_fallback(right_node)
        if left_range is None or right_range is None:
            return None
        return left_range.end, right_range.start

    def find_token(self, start: CodePosition, end: CodePosition, token: str) -> Optional[CodePosition]:
        line, column = start.line, start.column
        while (line, column) < (end.line, end.column) and line <= len(self.lines):
            text = self.lines[line - 1]
            if column >= len(text) or text[column] == "#":
                line, column = line + 1, 0
                continue
            if text.startswith(token, column):
                return CodePosition(line, column)
            column += 1
        return None

    def from_fallback(self, node: cst.CSTNode) -> Optional[CodeRange]:
        if self.fallback is None:
            self.fallback = MetadataWrapper(self.module, unsafe_skip_copy=True).resolve(PositionProvider)
        return self.fallback.get(node)

    def from_ast(self, node: cst.CSTNode) -> Optional[CodeRange]:
        if kind_key(node) is None:
            return None
        self.index_statement(self.tops.get(id(node)))
        match = self.index.get(id(node))
        if match is None:
            return None
        where = self.code_range(match)
        if where is None or not self.same_text(node, where):
            return None
        return where

    def index_statement(self, top: Optional[cst.CSTNode]) -> None:
        """Pair the nodes of one top-level statement (or, unknown, of the module) with ast's."""
        key = id(top) if top is not None else None
        if key in self.indexed:
            return
        self.indexed.add(key)
        partners = self.top_level_partners()
        if partners is None:
            return
        if top is None or id(top) not in partners:
            if None in self.indexed and key is not None:
                return
            self.indexed.add(None)
            self.pair(self.module, [s for group in partners.values() for s in group])
        else:
            self.pair(top, partners[id(top)])

    def top_level_partners(self) -> Optional[Dict[int, List[ast.stmt]]]:
        """Each top-level libcst statement's ast statements (a line may hold several)."""
        if self.partners is None:
            tree = self.tree
            if tree is None:
                try:
                    tree = ast.parse(self.text)
                except (SyntaxError, ValueError, RecursionError, MemoryError):
                    self.partners = {}
                    return None
            pending = list(tree.body)
            partners: Dict[int, List[ast.stmt]] = {}
            for statement in self.module.body:
                count = len(statement.body) if isinstance(statement, cst.SimpleStatementLine) else 1
                partners[id(statement)], pending = pending[:count], pending[count:]
            self.partners = partners if not pending else {}
        return self.partners or None

    def pair(self, root: cst.CSTNode, statements: List[ast.stmt]) -> None:
        ast_nodes: Dict[object, List[ast.AST]] = {}
        for statement in statements:
            for item in ast.walk(statement):
                key = ast_key(item)
                if key is not None:
                    ast_nodes.setdefault(key, []).append(item)
        for items in ast_nodes.values():
            items.sort(key=lambda n: (n.lineno, n.col_offset, -(n.end_lineno or 0), -(n.end_col_offset or 0)))
        cst_nodes: Dict[object, List[cst.CSTNode]] = {}
        for item in walk_in_source_order(root):
            key = kind_key(item)
            if key is not None:
                cst_nodes.setdefault(key, []).append(item)
        for key, items in cst_nodes.items():
            partners = ast_nodes.get(key, [])
            if len(partners) == len(items):  # else this kind can't be matched: it uses the fallback
                self.index.update((id(c), a) for c, a in zip(items, partners))

    def code_range(self, node: ast.AST) -> Optional[CodeRange]:
        end_line, end_col = getattr(node, "end_lineno", None), getattr(node, "end_col_offset", None)
        if end_line is None or end_col is None:
            return None
        start = CodePosition(node.lineno, self.character_column(node.lineno, node.col_offset))
        end = CodePosition(end_line, self.character_column(end_line, end_col))
        return CodeRange(start, end)

    def character_column(self, line: int, byte_offset: int) -> int:
        """ast columns count UTF-8 bytes; edits and reports count characters."""
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        if text.isascii():
            return byte_offset
        return len(text.encode("utf-8")[:byte_offset].decode("utf-8", errors="ignore"))

    def same_text(self, node: cst.CSTNode, where: CodeRange) -> bool:
        """Check a located node cheaply: its leftmost token starts the located text."""
        start, end = where.start, where.end
        first_line = self.lines[start.line - 1]
        token = leftmost_token(node)
        if token is not None:
            if not first_line.startswith(token, start.column):
                return False
            if isinstance(node, cst.Call):
                return self.lines[end.line - 1][end.column - 1: end.column] == ")"
            return True
        if start.line == end.line:
            segment = first_line[start.column:end.column]
        else:
            parts = [first_line[start.column:]]
            parts += self.lines[start.line:end.line - 1]
            parts.append(self.lines[end.line - 1][: end.column])
            segment = "\n".join(parts)
        expected = IGNORED_FOR_COMPARISON.sub("", self.module.code_for_node(node))
        return IGNORED_FOR_COMPARISON.sub("", segment) == expected


def leftmost_token(node: cst.CSTNode) -> Optional[str]:
    """The name a node's text starts with, when it starts with a name (no parenthesis)."""
    while True:
        if getattr(node, "lpar", None):
            return None
        if isinstance(node, cst.Name):
            return node.value
        if isinstance(node, cst.Call):
            node = node.func
        elif isinstance(node, (cst.Attribute, cst.Subscript, cst.Expr)):
            node = node.value
        elif isinstance(node, cst.BinaryOperation):
            node = node.left
        elif isinstance(node, (cst.AugAssign, cst.AnnAssign)):
            node = node.target
        elif isinstance(node, cst.Assign):
            node = node.targets[0].target
        else:
            return None
