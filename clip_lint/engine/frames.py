"""The analysis's working state: scopes (frames), classes, and findings before positions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, MutableMapping, Optional, Set, Tuple

import libcst as cst

from clip_lint.engine.values import Value

LOOP_PASSES = 2


@dataclass
class Pending:
    """A finding before positions are known (positions cost real time: resolved once)."""

    code: str
    node: cst.CSTNode
    subject: Value
    name: str
    op: str = ""
    detail: str = ""
    fix_plan: Optional[tuple] = None
    # Where the comparison is when the finding is reported elsewhere: (module scope, node, helper
    # name); the node is None when the finding is at the helper's comparison itself.
    site: Optional[tuple] = None
    # A sink with several operands to report: each one's name, value and feature dim.
    operands: Tuple[Tuple[str, Value, int], ...] = ()
    # Calls of the checked module the message names: the other calls that hand the same features
    # over, or (with ``site``'s node None) every call that hands the helper raw features.
    calls: Tuple[cst.CSTNode, ...] = ()
    # Reported at a call although the fix belongs in the helper of another module that ``site``
    # names: the calls hand it different producers' raw features (``calls`` names the others).
    in_helper: bool = False

    def placed(
        self,
        node: cst.CSTNode,
        site: Optional[tuple],
        fix_plan: Optional[tuple] = None,
        calls: Tuple[cst.CSTNode, ...] = (),
        in_helper: bool = False,
    ) -> "Pending":
        """The same finding reported at ``node``: what it says is kept; where it is reported,
        its fix, the calls it names and whether the fix belongs in a helper are given here,
        never carried over (a fix planned for one place is wrong at another)."""
        return Pending(
            self.code, node, self.subject, self.name, op=self.op, detail=self.detail, fix_plan=fix_plan,
            site=site, operands=self.operands, calls=calls, in_helper=in_helper,
        )


@dataclass
class Frame:
    """The state of one running scope."""

    env: Dict[str, Value]
    returns: List[Value] = field(default_factory=list)
    inplace: Set[str] = field(default_factory=set)
    class_info: Optional["ClassInfo"] = None
    arguments: Dict[str, Value] = field(default_factory=dict)  # what a call gave each parameter
    ended: bool = False  # the path has returned or raised: the rest of the block can't run


@dataclass
class ClassInfo:
    methods: MutableMapping[str, cst.FunctionDef]  # another module's: parsed when first read
    attrs: Dict[str, Value] = field(default_factory=dict)
