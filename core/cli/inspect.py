"""`vlmr1 inspect SCORED.jsonl`: write an HTML report of a scored file (logic in vlmr1.report)."""

from __future__ import annotations

import click

from ..report import FRAMES, TOTAL, build_report


@click.command("inspect")
@click.argument("scored", type=click.Path(dir_okay=False))
@click.option("--out", "out", default=None, type=click.Path(file_okay=False), help="Report folder [default: SCORED's name + '_report'].")
@click.option("--image-root", "image_roots", multiple=True, type=click.Path(file_okay=False), help="Where relative image paths live (repeatable); the file's own folder is always tried.")
@click.option("-k", "--top", "k", default=5, show_default=True, type=click.IntRange(1, 200), help="How many lowest and highest rows to show.")
@click.option("--by", default=TOTAL, show_default=True, help="Rank rows by this reward column (default: the weighted total).")
@click.option("--frame", default="auto", show_default=True, type=click.Choice(FRAMES), help="Frame of the model's coordinates; auto: per row, from the row's frame, model_family and sizes.")
def inspect_cmd(scored: str, out: str | None, image_roots: tuple[str, ...], k: int, by: str, frame: str) -> None:
    """Write an HTML report: reward histograms, summary, best/worst rows, answers drawn on images.

    Plugins draw their own answers (the iou plugin: boxes in both frames).

    \b
    Examples:
      vlmr1 inspect scored.jsonl
      vlmr1 inspect scored.jsonl --image-root data/images --top 10 --by iou
      vlmr1 inspect scored.jsonl --frame input --out report/
    """
    from pathlib import Path

    target = Path(out) if out else Path(scored).with_name(Path(scored).stem + "_report")
    index = build_report(scored, target, image_roots, k=k, by=by, frame=frame)
    click.echo(f"Wrote {index} (open it in a browser)")
