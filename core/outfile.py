"""The scored output on disk: one writer at a time, whole records only, and write
failures (a full disk, a file-size limit) that leave a resumable ``.partial`` behind.

A run holds ``OUT.lock`` (``flock``, with the holder's pid written in it) for as long as
it writes ``OUT.partial``; a second run on the same output fails at once, naming that
pid, instead of appending every row a second time. The lock is the kernel's, so a run
killed with ``kill -9`` leaves nothing to clean up. A forked child (a scoring worker)
closes its copy of the lock's descriptor at once: ``flock`` lasts while any copy is open,
and a worker that outlives a killed run for a moment would otherwise hold the output
against the rerun.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import VlmrError

__all__ = ["OutputBusyError", "OutputWriteError", "PartialWriter", "output_lock", "partial_of", "recover_partial", "refuse_same_file"]


class OutputBusyError(VlmrError):
    """Another process is writing the same scored output."""


class OutputWriteError(VlmrError):
    """The scored output could not be written (disk full, file too large, I/O error)."""


def partial_of(output_path: Path) -> Path:
    """Where a run writes before its atomic rename: ``OUT.partial`` (also what a rerun resumes)."""
    return output_path.with_name(output_path.name + ".partial")


def refuse_same_file(input_path: Path, output_path: Path, partial: Path) -> None:
    """Scoring a file into itself would replace the rows it is reading."""
    for target in (output_path, partial):
        same = target.exists() and os.path.samefile(input_path, target)
        if same or input_path.resolve() == target.resolve():
            raise VlmrError(f"--output {output_path} is the input file {input_path} (or its .partial): scoring writes a new "
                            f"file and would replace the rows it reads. Choose another output path.")


_HELD: set[int] = set()  # lock descriptors this process holds
_CHILD_HOOK: list[bool] = []  # the at-fork hook, registered once per process


def _close_in_child() -> None:
    for fd in _HELD:
        try:
            os.close(fd)
        except OSError:
            pass
    _HELD.clear()


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
    except OSError:
        text = ""
    return text if text.isdigit() else "unknown"


@contextmanager
def output_lock(output_path: Path) -> Iterator[None]:
    """Hold ``OUT.lock`` for the body; raise OutputBusyError naming the pid that holds it."""
    import fcntl

    lock_path = output_path.with_name(output_path.name + ".lock")
    while True:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _holder(fd)
            os.close(fd)
            raise OutputBusyError(
                f"{output_path} is being written by another vlmr1 score (pid {pid}). Two runs on one output "
                f"would write every row twice: wait for it to finish, or stop it (kill {pid}) and run again to resume."
            ) from None
        try:  # the run that held it may have finished and removed the file since we opened it
            current = os.stat(lock_path).st_ino
        except FileNotFoundError:
            current = None
        if current == os.fstat(fd).st_ino:
            break
        os.close(fd)
    if not _CHILD_HOOK:
        os.register_at_fork(after_in_child=_close_in_child)
        _CHILD_HOOK.append(True)
    _HELD.add(fd)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        try:
            os.unlink(lock_path)  # while still held: a waiting opener sees the inode change and retries
        except OSError:
            pass
        _HELD.discard(fd)
        os.close(fd)


def recover_partial(partial: Path) -> int:
    """Cut a torn last line off ``partial`` and return how many whole records it holds.

    Returns the count; the file is truncated in place to the end of the last whole record.
    """
    if not partial.exists():
        return 0
    good_end = 0
    count = 0
    with open(partial, "rb") as fh:
        for raw in fh:
            if not raw.endswith(b"\n"):
                break
            try:
                json.loads(raw)
            except ValueError:
                break
            good_end += len(raw)
            count += 1
    if good_end != partial.stat().st_size:
        with open(partial, "r+b") as fh:
            fh.truncate(good_end)
            fh.flush()
            os.fsync(fh.fileno())
    return count


_WHY = {
    errno.ENOSPC: "the disk is full",
    errno.EFBIG: "the file has reached the largest size allowed here (a file-size limit, ulimit -f)",
    errno.EDQUOT: "the disk quota is used up",
    errno.EIO: "an I/O error",
    errno.EROFS: "the file system is read-only",
}


class PartialWriter:
    """Appends whole chunks of records to ``OUT.partial``, each made durable (fsync) before
    the next. A write that fails is cut back to the last whole chunk, so the partial file
    always resumes cleanly, and becomes an OutputWriteError that says what to do."""

    def __init__(self, partial: Path, records_before: int) -> None:
        self.partial = partial
        self.records = records_before
        try:
            self._fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            self._end = os.fstat(self._fd).st_size
        except OSError as exc:
            raise self._error(exc) from None

    def write_lines(self, lines: list[bytes]) -> None:
        data = b"".join(lines)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view):]
            os.fsync(self._fd)
        except OSError as exc:
            try:  # the chunk's first bytes may be in: take them back
                os.ftruncate(self._fd, self._end)
            except OSError:
                pass  # the next run cuts a torn line off anyway
            raise self._error(exc) from None
        self._end += len(data)
        self.records += len(lines)

    def _error(self, exc: OSError) -> OutputWriteError:
        why = _WHY.get(exc.errno or 0, exc.strerror or str(exc))
        code = errno.errorcode.get(exc.errno or 0, "")
        return OutputWriteError(
            f"cannot write {self.partial}: {why}{f' ({code})' if code else ''}. The {getattr(self, 'records', 0)} records "
            f"written so far are kept in it; make room (or raise the limit) and run the same command again to resume."
        )

    def close(self) -> None:
        os.close(self._fd)

    def finish(self, output_path: Path) -> None:
        """Move the complete file into place (atomic: OUT is either absent or complete)."""
        self.close()
        try:
            os.replace(self.partial, output_path)
        except OSError as exc:
            raise self._error(exc) from None
