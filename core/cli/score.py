"""`vlmr1 score`: a JSONL of model outputs in, the same rows with their rewards out.
The logic lives in :mod:`vlmr1.scorefile`; :mod:`vlmr1.supervise` runs it in a scoring
process that this one watches, so that inline plugin code cannot end the run silently."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from vlmr1.scorefile import ScoreSummary


@click.command()
@click.option("--config", "config_path", required=True, type=click.Path(exists=True, dir_okay=False), help="Reward config (YAML or JSON).")
@click.option("--input", "input_path", required=True, type=click.Path(exists=True, dir_okay=False), help="JSONL rows: completion, solution, task, ...")
@click.option("--output", "output_path", required=True, type=click.Path(dir_okay=False), help="Scored JSONL; OUTPUT.partial while running.")
@click.option("--workers", type=click.IntRange(min=0), default=None, help="Worker processes for isolated rewards (overrides engine.workers; 0 = inline, unsafe).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None, help="Seconds per item (overrides engine.timeout).")
@click.option("--chunk", "chunk_size", type=click.IntRange(min=1), default=256, show_default=True, help="Rows scored (and made durable) per step.")
@click.option("--no-progress", is_flag=True, help="No progress bar (it is shown only on a terminal anyway).")
@click.option("--details", is_flag=True, help="Also write each verdict's answer and details into the rows (`details`).")
def score(config_path: str, input_path: str, output_path: str, workers: int | None, timeout: float | None,
          chunk_size: int, no_progress: bool, details: bool) -> None:
    """Score a JSONL file. Re-run the same command after an interruption to resume.

    Reward names, params and gates are checked before any row is scored.

    \b
    Examples:
      vlmr1 score --config rec.yaml --input outputs.jsonl --output scored.jsonl
      vlmr1 score --config rec.yaml --input outputs.jsonl --output scored.jsonl --details
      vlmr1 score --config math.yaml --input big.jsonl --output scored.jsonl --workers 8 --timeout 20
    """
    from vlmr1.config import load_config
    from vlmr1.scorefile import count_records
    from vlmr1.supervise import score_supervised

    from vlmr1.engine import check_config

    config = load_config(config_path).with_engine(workers=workers, timeout=timeout)
    check_config(config)  # names, params, gates: wrong ones end the run here, before any row is read

    def bad_line(line: int, why: str) -> None:
        click.echo(f"{input_path}:{line}: {why}", err=True)

    def warn(text: str) -> None:
        click.echo(text, err=True)

    show = not no_progress and sys.stderr.isatty()
    if show:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        from rich.console import Console

        with Progress(TextColumn("scoring"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                      console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task("score", total=count_records(Path(input_path)))
            summary = score_supervised(config, input_path, output_path, chunk_size=chunk_size, on_bad_line=bad_line,
                                       on_progress=lambda n: bar.advance(task, n), on_warning=warn, details=details)
    else:
        summary = score_supervised(config, input_path, output_path, chunk_size=chunk_size, on_bad_line=bad_line,
                                   on_warning=warn, details=details)
    _print_summary(summary, output_path)


def _print_summary(summary: ScoreSummary, output_path: str) -> None:
    from rich.console import Console
    from rich.table import Table

    def fmt(x: float | None) -> str:
        return "-" if x is None else f"{x:.4f}"

    table = Table(title=f"{output_path}: {summary.rows} rows ({summary.resumed} resumed, {summary.malformed} malformed)")
    for col in ("reward", "mean", "std", "scored", "none", "errors", "timeouts"):
        table.add_column(col, justify="left" if col == "reward" else "right")
    for name, t in summary.columns().items():
        table.add_row(name, fmt(t.mean), fmt(t.std), str(t.count), str(t.none), str(t.errors), str(t.timeouts))
    t = summary.total.summary()
    table.add_row("total (weighted)", fmt(t.mean), fmt(t.std), str(t.count), str(t.none), "", "")
    Console(soft_wrap=True).print(table)
