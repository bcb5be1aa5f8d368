"""Memoized questions about a project, each with the record of what its answer read.

The project layer asks the same questions of the same modules again and again (where does this
import lead, does this module name an encoder, which of its definitions may matter). ``Queries``
answers each once per run and keeps with the answer the ``Reads`` it was computed from, so that
whoever reuses the answer records those reads too: the cache then knows every file and probe a
file's findings depended on, however many memoized answers they passed through.

Answers that depend on each other through an import cycle are computed as a least fixed point:
a question asked again while it is being answered gets its answer so far (``bottom`` at first),
and the outermost question of the cycle is asked again until no answer in the cycle changes.
Each answer must grow with the answers it reads (more relevant names never make fewer), so the
result is the same whichever module of the cycle a run asks about first.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Hashable, List, Set, Tuple

from clip_lint.project.reading import Reads, SourceReader


class _Frame:
    """A question being answered: its place on the stack, the lowest place its answer reached
    back to through a cycle, and the questions of a cycle it closes."""

    __slots__ = ("key", "index", "low", "cyclic", "changed", "members", "seen", "round", "stamp")

    def __init__(self, key: Hashable, index: int) -> None:
        self.key = key
        self.index = index
        self.low = index
        self.cyclic = False  # asked again while being answered, in this round
        self.changed = False
        self.members: Set[Hashable] = set()  # of the current round
        self.seen: Set[Hashable] = set()  # of every round
        self.round = 0
        #: which round of which frame this is: unique in a run, unlike (place on the stack, round),
        #: which a later frame at the same place repeats
        self.stamp = 0


#: Rounds after which a cycle's answers are taken as they are (monotone answers settle in a few).
MAX_ROUNDS = 50


class Queries:
    """One run's memoized answers (see the module's docstring)."""

    def __init__(self, reader: SourceReader) -> None:
        self.reader = reader
        self._final: Dict[Hashable, Tuple[Any, Reads]] = {}
        self._active: Dict[Hashable, int] = {}
        self._frames: List[_Frame] = []
        #: answers of questions inside a cycle that is still being solved, and the round that made them
        self._provisional: Dict[Hashable, Any] = {}
        self._made_in: Dict[Hashable, Tuple[int, int]] = {}
        self._stamps = 0

    def ask(self, key: Hashable, compute: Callable[[], Any], bottom: Any = None) -> Any:
        """The answer to ``key``: memoized, or ``compute()``d with its reads recorded."""
        found = self._final.get(key)
        if found is not None:
            self.reader.reuse(found[1])
            return found[0]
        index = self._active.get(key)
        if index is None:
            index = self._current_round_root(key)
        if index is not None:  # asked inside its own cycle: the answer so far
            self._reaches_back(index)
            return self._provisional.get(key, bottom)
        return self._solve(key, compute, bottom)

    def _current_round_root(self, key: Hashable):
        """The root's place, when ``key`` was already answered provisionally in the root's current round."""
        made = self._made_in.get(key)
        if made is None:
            return None
        root_index, stamp = made
        if root_index < len(self._frames) and self._frames[root_index].stamp == stamp:
            return root_index
        return None

    def _reaches_back(self, index: int) -> None:
        self._frames[index].cyclic = True
        top = self._frames[-1]
        top.low = min(top.low, index)

    def _solve(self, key: Hashable, compute: Callable[[], Any], bottom: Any) -> Any:
        index = len(self._frames)
        frame = _Frame(key, index)
        self._frames.append(frame)
        self._active[key] = index
        try:
            while True:
                frame.low, frame.cyclic, frame.changed, frame.members = index, False, False, set()
                frame.round += 1
                self._stamps += 1
                frame.stamp = self._stamps
                with self.reader.recording() as reads:
                    value = compute()
                if frame.low < index:
                    return self._provisional_answer(frame, value, bottom)
                grew = frame.changed or value != self._provisional.get(key, bottom)
                if frame.cyclic and grew and frame.round < MAX_ROUNDS:
                    self._provisional[key] = value
                    continue  # the cycle's answers grew: ask again, from what they are now
                for member in frame.members:
                    self._final[member] = (self._provisional[member], reads)
                self._final[key] = (value, reads)
                return value
        finally:
            self._frames.pop()
            del self._active[key]
            if frame.low == index:  # a root: what its rounds left provisional is settled or dropped
                for member in frame.seen:
                    self._provisional.pop(member, None)
                    self._made_in.pop(member, None)
                self._provisional.pop(key, None)

    def _provisional_answer(self, frame: _Frame, value: Any, bottom: Any) -> Any:
        """A question inside a cycle that a question below it closes: its answer is provisional
        until the cycle's root settles, and everything it read is in the root's record."""
        root = self._frames[frame.low]
        parent = self._frames[frame.index - 1]
        parent.low = min(parent.low, frame.low)
        # a change inside this frame's own cycle (a question it closed) is a change of the root's
        # cycle too: the root must ask again
        if frame.changed or self._provisional.get(frame.key, bottom) != value:
            root.changed = True
        self._provisional[frame.key] = value
        self._made_in[frame.key] = (root.index, root.stamp)
        root.members.add(frame.key)
        root.members |= frame.members
        root.seen |= root.members
        for member in frame.members:
            self._made_in[member] = (root.index, root.stamp)
        return value
