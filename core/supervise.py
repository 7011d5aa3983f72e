"""``vlmr1 score`` in a scoring process watched by the process the user started.

Inline plugin code runs in the scoring process itself, and some of what it can do cannot
be undone from inside: ``os._exit``, a segfault in a C extension, a call that holds the
GIL or ignores the inline watchdog's interrupt. A second process can always see and end
the first, so the command forks one that scores and stays behind to watch it:

- the scoring process mirrors the inline call in progress (reward, hook, item) into
  shared memory, and sends bad lines, progress, warnings and its summary over a pipe;
- when it dies in inline code, or an inline call stays stuck past ``inline_timeout``
  plus a grace period (the watcher then kills it), the watcher names the reward, the
  hook and the input line on stderr and starts a new scoring process that resumes the
  ``.partial`` output with that reward's inline code distrusted (it runs isolated);
- when it dies anywhere else, the run ends with ``Error:``, exit 2, and a resumable
  ``.partial``.

The watcher holds the output's lock for the whole run. Where ``fork`` is not available,
the file is scored in-process (:func:`vlmr1.scorefile.score_file`).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import Config
from .errors import VlmrError
from .inline import HOOKS
from . import checks
from .outfile import output_lock, partial_of, refuse_same_file
from .scorefile import ScoreSummary, score_file, score_locked

__all__ = ["ScoringProcessLost", "score_supervised"]


class ScoringProcessLost(VlmrError):
    """The scoring process ended in a way no reward can be blamed for, or could not be saved."""


@dataclass
class _Outcome:
    summary: ScoreSummary | None = None
    error: tuple[str, str] | None = None  # (class name, message) of a VlmrError
    crash: str | None = None  # traceback of anything else
    interrupted: bool = False
    exitcode: int | None = None
    inline: tuple[int, str, int] | None = None  # (column index, hook, item) in progress when it ended
    killed_after: float | None = None  # seconds the inline call had run when the watcher killed it
    lines: list[int] = field(default_factory=list)  # input line of each item of the chunk in progress


def score_supervised(config: Config, input_path: str | Path, output_path: str | Path, *, registry: Any = None,
                     chunk_size: int = 256, on_bad_line: Callable[[int, str], None] | None = None,
                     on_progress: Callable[[int], None] | None = None,
                     on_warning: Callable[[str], None] | None = None, details: bool = False) -> ScoreSummary:
    """:func:`vlmr1.scorefile.score_file`, in a scoring process that is replaced when inline
    plugin code kills or wedges it (see the module docstring)."""
    input_path, output_path = Path(input_path), Path(output_path)
    if "fork" not in multiprocessing.get_all_start_methods():
        return score_file(config, input_path, output_path, registry=registry, chunk_size=chunk_size,
                          on_bad_line=on_bad_line, on_progress=on_progress, details=details)
    if registry is None:
        from .registry import get_registry

        registry = get_registry()  # loaded once, here: every scoring process inherits it
    warn = on_warning or (lambda text: print(text, file=sys.stderr, flush=True))
    refuse_same_file(input_path, output_path, partial_of(output_path))
    distrust: list[str] = []
    with output_lock(output_path):
        while True:
            outcome = _run_once(config, input_path, output_path, registry, chunk_size, distrust,
                                on_bad_line, on_progress, warn, details)
            if outcome.summary is not None:
                return outcome.summary
            if outcome.interrupted:
                raise KeyboardInterrupt
            if outcome.error is not None:
                raise _rebuild(*outcome.error)
            if outcome.crash is not None:
                raise ScoringProcessLost(f"scoring failed with an unexpected error (a bug: please report it):\n{outcome.crash}")
            name = _blame(config, outcome, distrust, output_path)
            warn(_restart_note(config, registry, outcome, name, input_path))
            distrust.append(name)


def _run_once(config: Config, input_path: Path, output_path: Path, registry: Any, chunk_size: int, distrust: list[str],
              on_bad_line: Callable[[int, str], None] | None, on_progress: Callable[[int], None] | None,
              warn: Callable[[str], None], details: bool = False) -> _Outcome:
    ctx = multiprocessing.get_context("fork")
    monitor = ctx.RawArray("d", 5)
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_scoring_process, name="vlmr1-score",
                       args=(send, monitor, config, input_path, output_path, registry, chunk_size, tuple(distrust), details))
    proc.start()
    send.close()
    outcome = _Outcome()
    try:
        _watch(proc, recv, monitor, config, outcome, on_bad_line, on_progress, warn)
    except BaseException:
        _kill(proc)
        raise
    finally:
        recv.close()
    proc.join()
    outcome.exitcode = proc.exitcode
    return outcome


def _watch(proc: Any, recv: Any, monitor: Any, config: Config, outcome: _Outcome,
           on_bad_line: Callable[[int, str], None] | None, on_progress: Callable[[int], None] | None,
           warn: Callable[[str], None]) -> None:
    """Relay the scoring process's messages until it ends; kill it if an inline call stays stuck."""
    e = config.engine
    while True:
        if recv.poll(0.05):
            try:
                kind, *data = recv.recv()
            except EOFError:  # it has ended (or closed the pipe on its way out)
                break
            if kind == "bad" and on_bad_line:
                on_bad_line(*data)
            elif kind == "progress" and on_progress:
                on_progress(*data)
            elif kind == "warn":
                warn(data[0])
            elif kind == "chunk":
                outcome.lines = data[0]
            elif kind == "done":
                outcome.summary = data[0]
            elif kind == "error":
                outcome.error = (data[0], data[1])
            elif kind == "crash":
                outcome.crash = data[0]
            elif kind == "interrupted":
                outcome.interrupted = True
            continue
        if not proc.is_alive():
            if recv.poll(0):
                continue  # what it sent on its way out
            break
        if monitor[0] == 1.0:
            hook = HOOKS[int(monitor[2])]
            budget = e.warmup_timeout if hook == "warmup" else e.inline_timeout
            ran = time.monotonic() - monitor[4]
            if ran > budget + max(budget, 2.0):  # the in-process watchdog could not end it
                outcome.inline, outcome.killed_after = (int(monitor[1]), hook, int(monitor[3])), ran
                _kill(proc)
                return
    if monitor[0] == 1.0 and outcome.summary is None:  # it ended inside inline code
        outcome.inline = (int(monitor[1]), HOOKS[int(monitor[2])], int(monitor[3]))


def _kill(proc: Any) -> None:
    """End the scoring process and the workers it started (each leads its own group)."""
    if proc.pid is None or not proc.is_alive():
        return
    workers = _children(proc.pid)
    try:
        os.kill(proc.pid, signal.SIGKILL)
    except OSError:
        pass
    for pid in workers:
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
    proc.join(timeout=10)


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(p) for p in fh.read().split()]
    except OSError:
        return []


def _blame(config: Config, outcome: _Outcome, distrust: list[str], output_path: Path) -> str:
    """The reward whose inline code ended the scoring process; or ScoringProcessLost."""
    partial = partial_of(output_path)
    how = _how(outcome)
    if outcome.inline is None:
        raise ScoringProcessLost(
            f"the scoring process {how} while no plugin code was running inline: a crash in the engine or in a library "
            f"it loaded. The records written so far are kept in {partial}; run the same command again to resume.")
    column, hook, _ = outcome.inline
    name = config.rewards[column].name
    if hook == "check_params" or name in distrust:
        raise ScoringProcessLost(
            f"the scoring process {how} in the {hook} of reward {name!r}, which cannot be run any other way. "
            f"Fix or uninstall the plugin. The records written so far are kept in {partial}.")
    return name


def _how(outcome: _Outcome) -> str:
    if outcome.killed_after is not None:
        return f"was stopped after an inline call stayed stuck for {outcome.killed_after:.0f} s"
    code = outcome.exitcode
    if code is not None and code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with status {code}"


def _restart_note(config: Config, registry: Any, outcome: _Outcome, name: str, input_path: Path) -> str:
    assert outcome.inline is not None
    column, hook, item = outcome.inline
    spec = config.rewards[column]
    try:
        who = checks.who(spec.target, registry.reward(spec.target))
    except Exception:  # noqa: BLE001 - the note is still worth giving without the plugin's name
        who = checks.who(spec.target, None)
    where = f" on {input_path}:{outcome.lines[item]}" if 0 <= item < len(outcome.lines) else ""
    return (f"Warning: the scoring process {_how(outcome)} in the inline {hook} of reward {name!r} ({who}){where}. "
            f"Resuming with {name!r} run isolated (in worker processes, under engine.timeout); fix the plugin or "
            f"declare the reward isolated.")


def _rebuild(name: str, message: str) -> VlmrError:
    from .errors import ConfigError, PluginFailure
    from .outfile import OutputBusyError, OutputWriteError
    from .scorefile import RowCountError

    known = {c.__name__: c for c in (ConfigError, PluginFailure, OutputBusyError, OutputWriteError, RowCountError)}
    return known.get(name, VlmrError)(message)


def _scoring_process(conn: Any, monitor: Any, config: Config, input_path: Path, output_path: Path, registry: Any,
                     chunk_size: int, distrust: tuple[str, ...], details: bool = False) -> None:
    """The forked scoring process: :func:`score_locked` (the watcher holds the lock), reporting over ``conn``."""
    import traceback
    import warnings

    lock = threading.Lock()

    def send(*message: Any) -> None:
        with lock:
            conn.send(message)

    _die_with_parent()
    warnings.showwarning = lambda message, *_a, **_k: send("warn", f"Warning: {message}")
    try:
        summary = score_locked(config, input_path, output_path, registry=registry, chunk_size=chunk_size,
                               on_bad_line=lambda n, why: send("bad", n, why), on_progress=lambda k: send("progress", k),
                               on_chunk=lambda lines: send("chunk", lines),
                               engine_options={"distrust": distrust, "monitor": monitor, "report": lambda t: send("warn", t)},
                               details=details)
        send("done", summary)
    except KeyboardInterrupt:
        send("interrupted")
    except VlmrError as exc:
        send("error", type(exc).__name__, str(exc))
    except BaseException:  # noqa: BLE001 - reported to the watcher, which ends the run with it
        send("crash", traceback.format_exc())
    finally:
        conn.close()


def _die_with_parent() -> None:
    """Linux: end this process when the watcher dies, so an orphan never writes on alone."""
    if sys.platform != "linux":
        return
    try:
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover
        pass
