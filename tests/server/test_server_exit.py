"""How the server process ends: at ``exit``, with the LSP status, whatever the editor does with the pipes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from lsp_session import server_command


def test_exit_ends_the_process_while_the_editor_still_holds_its_stdin(project: Path) -> None:
    """Some editors close the pipes only once the server is gone: exit must not wait for them."""
    def frame(message: dict) -> bytes:
        body = json.dumps(message).encode()
        return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)

    process = subprocess.Popen(server_command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=project)
    assert process.stdin is not None
    for message in (
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"processId": None, "rootUri": None, "capabilities": {}}},
        {"jsonrpc": "2.0", "method": "initialized", "params": {}},
        {"jsonrpc": "2.0", "id": 2, "method": "shutdown", "params": None},
        {"jsonrpc": "2.0", "method": "exit", "params": None},
    ):
        process.stdin.write(frame(message))
    process.stdin.flush()  # and left open
    try:
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
        process.wait()
        process.stdin.close()
        process.stdout.close()  # type: ignore[union-attr]


def test_without_pygls_the_command_says_what_to_install() -> None:
    """Installed with ``pip --no-deps``: no traceback, but the package to install and status 2."""
    blocked = "import sys; sys.modules['pygls'] = None; from clip_lint.frontends.cli import main; sys.exit(main(['server']))"
    run = subprocess.run([sys.executable, "-c", blocked], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert run.returncode == 2
    assert "pip install 'pygls>=2.1,<3'" in run.stderr and "Traceback" not in run.stderr
