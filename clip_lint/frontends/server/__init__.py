"""``clip-lint server``: findings and fixes in the editor, over the Language Server Protocol.

``lsp`` talks to the editor (pygls), ``worker`` runs the analysis in a warm child process,
``analysis`` is the command's per-file pipeline on the editor's texts, and ``texts`` keeps
those texts as the client counts lines and characters. docs/editors.md sets editors up.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import BinaryIO, Callable, Sequence, Tuple

from clip_lint.frontends.server.analysis import FileSettings

USAGE = """\
Start the clip-lint language server on stdin and stdout. An editor starts it; docs/editors.md
shows how (VS Code, Neovim, Helix, Emacs). Each file is checked with the configuration the
command would use for it, found from the file."""


def main(argv: Sequence[str], make_settings: Callable[[], FileSettings]) -> int:
    """Serve one editor over stdio until it sends ``exit``; 0 after a ``shutdown``.

    ``make_settings`` gives the command's per-file configuration (``cli.FileSettings``); it is
    called again when a configuration file changes.
    """
    parser = argparse.ArgumentParser(prog="clip-lint server", description=USAGE)
    parser.add_argument("--stdio", action="store_true", help="talk over stdin and stdout (the default and only way)")
    parser.parse_args(argv)
    try:
        from clip_lint.frontends.server.lsp import build_server
        from clip_lint.frontends.server.worker import AnalysisProcess
    except ImportError as error:  # installed without its dependencies (pip --no-deps)
        print(
            f"clip-lint: error: the language server needs pygls and lsprotocol ({error}); "
            "install them with: pip install 'pygls>=2.1,<3'",
            file=sys.stderr,
        )
        return 2
    rpc_in, rpc_out = _claim_stdio()
    analysis = AnalysisProcess(make_settings)
    server = build_server(analysis)
    try:
        server.start_io(rpc_in, rpc_out)
    finally:
        analysis.close()
    return 0 if getattr(server.protocol, "_shutdown", False) else 1  # LSP: exit without shutdown is 1


def _claim_stdio() -> Tuple[BinaryIO, BinaryIO]:
    """The LSP streams; from here on, anything printed by accident goes to stderr, not to the editor."""
    rpc_in = sys.stdin.buffer
    rpc_out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    return rpc_in, rpc_out
