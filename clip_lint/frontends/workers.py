"""Check files in worker processes, so that no input can take the whole run down.

Some inputs crash the interpreter itself (libcst's native parser overflows its stack on
deep nesting: a segfault no ``except`` can catch). What needs no analysis (a file without an
encoder word, a result the cache holds) is answered in this process first, where libcst is never
reached (``check_from_cache``); the other files are analysed in worker processes;
when one dies, the files it may have been holding are checked again, each in a process of
its own, and a file that kills that process too is reported as CLN900. No file is ever
retried in this process. Fixes are written here, in the parent, only from a finished
analysis.
"""

from __future__ import annotations

import multiprocessing
import signal
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Dict, List, Optional, Sequence, Union

from clip_lint.prefilter.speedups import enabled
from clip_lint.frontends.runner import (
    FIX,
    PARSE_ERROR,
    FileResult,
    Reported,
    Settings,
    cannot_analyse_message,
    check_from_cache,
    check_path,
    is_selected,
    write_fix,
)

CHUNKS_PER_WORKER = 4

Worker = Callable[[str, Settings], FileResult]  # a module-level function, so that it pickles


def run_checks(
    files: Sequence[str],
    settings: Union[Settings, Sequence[Settings]],
    jobs: int,
    worker: Worker = check_path,
    on_result: Callable[[], None] = lambda: None,
) -> List[FileResult]:
    """Check ``files`` in up to ``jobs`` worker processes, in the order given.

    ``settings`` is one for all files or one per file (each file's own config);
    ``on_result`` is called in this process as each file's result arrives (progress).
    """
    per_file = dict(zip(files, [settings] * len(files) if isinstance(settings, Settings) else settings))
    results: Dict[str, FileResult] = {}
    pending = _answer_from_cache(files, per_file, results, on_result) if worker is check_path else list(files)
    if not pending:
        return [results[path] for path in files]
    try:
        import clip_lint.engine  # noqa: F401  (imported once here, inherited by forked workers)

        pool = ProcessPoolExecutor(max_workers=max(1, min(jobs, len(pending))))
    except (OSError, NotImplementedError, ImportError):
        # no process pool here (a sandbox without semaphores): check in this process
        for path in pending:
            results[path] = _done(_finish(worker(path, per_file[path]), per_file[path]), on_result)
        return [results[path] for path in files]
    with pool:
        unfinished = _run_pool(pool, pending, per_file, jobs, results, worker, on_result)
    for path in sorted(unfinished):
        results[path] = _done(_check_alone(path, per_file[path], worker), on_result)
    return [results[path] for path in files]


def _answer_from_cache(
    files: Sequence[str], per_file: Dict[str, Settings], results: Dict[str, FileResult], on_result: Callable[[], None]
) -> List[str]:
    """Check here every file that needs no work beyond the substring gate and the cache; the others.

    A warm run then starts no worker process at all, and a cold one hands the workers only the
    files that name an encoder (or import one). Nothing done here can crash the interpreter:
    libcst is never reached (``check_from_cache``). ``CLIP_LINT_SPEEDUPS_OFF=parent`` turns it off.
    """
    if not enabled("parent"):
        return list(files)
    pending = []
    for path in files:
        answered = check_from_cache(path, per_file[path])
        if answered is None:
            pending.append(path)
        else:
            results[path] = _done(_finish(answered, per_file[path]), on_result)
    return pending


def _done(result: FileResult, on_result: Callable[[], None]) -> FileResult:
    on_result()
    return result


def _run_pool(
    pool: ProcessPoolExecutor,
    files: Sequence[str],
    per_file: Dict[str, Settings],
    jobs: int,
    results: Dict[str, FileResult],
    worker: Worker,
    on_result: Callable[[], None],
) -> List[str]:
    """Run the pool to the end; the files of every chunk a dead worker left without a result."""
    size = max(1, len(files) // (max(jobs, 1) * CHUNKS_PER_WORKER))
    chunks = [list(files[start:start + size]) for start in range(0, len(files), size)]
    futures = {pool.submit(_check_chunk, chunk, [per_file[path] for path in chunk], worker): chunk for chunk in chunks}
    unfinished: List[str] = []
    for future in as_completed(futures):
        try:
            for result in future.result():
                results[result.path] = _done(_finish(result, per_file[result.path]), on_result)
        except BrokenProcessPool:
            unfinished.extend(futures[future])
    return unfinished


def _check_chunk(paths: Sequence[str], settings: Sequence[Settings], worker: Worker = check_path) -> List[FileResult]:
    return [worker(path, file_settings) for path, file_settings in zip(paths, settings)]


def _finish(result: FileResult, settings: Settings) -> FileResult:
    """Write the fix of a finished analysis (in the parent process only)."""
    if settings.mode == FIX:
        write_fix(result)
    return result


def _check_alone(path: str, settings: Settings, worker: Worker = check_path) -> FileResult:
    """Check one file in a process of its own; its death becomes a CLN900 for that file."""
    context = multiprocessing.get_context()
    receiving, sending = context.Pipe(duplex=False)
    process = context.Process(target=_send_result, args=(path, settings, sending, worker), daemon=True)
    process.start()
    sending.close()
    result: Optional[FileResult] = None
    try:
        result = receiving.recv()
    except EOFError:
        pass  # the process died before it could answer
    finally:
        receiving.close()
        process.join()
    if result is None:
        return _crashed(path, process.exitcode, settings)
    return _finish(result, settings)


def _send_result(
    path: str, settings: Settings, sending: "multiprocessing.connection.Connection", worker: Worker = check_path
) -> None:
    sending.send(worker(path, settings))
    sending.close()


def _crashed(path: str, exitcode: Optional[int], settings: Settings) -> FileResult:
    how = _describe_exit(exitcode)
    message = cannot_analyse_message(f"analysing it crashed the Python interpreter ({how}); nothing was written")
    findings: List[Reported] = [Reported(PARSE_ERROR, message, 1, 0)]
    return FileResult(path, findings=[f for f in findings if is_selected(f.code, settings)])


def _describe_exit(exitcode: Optional[int]) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit status {exitcode}"
