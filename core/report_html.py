"""The HTML of `vlmr1 inspect`'s report: one self-contained page, no scripts, no network.

Every value that came from a data file (completions, solutions, reasons, ids) is
HTML-escaped: completions are untrusted model output.
"""

from __future__ import annotations

from typing import Any, Sequence

from .report import TOTAL, BoxView, Column, escape

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1200px;color:#222;padding:0 16px}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f0f3f7}.num{text-align:right;font-variant-numeric:tabular-nums}
.hists img{margin:4px;border:1px solid #ddd}.sample{border:1px solid #ccc;border-radius:6px;padding:10px;margin:12px 0}
pre{white-space:pre-wrap;word-break:break-word;background:#f7f7f7;padding:8px;max-height:300px;overflow:auto}
.warn{background:#fff3cd;border:1px solid #e0b000;padding:10px;border-radius:6px}
.note{color:#8a5a00}.panels{display:flex;flex-wrap:wrap;gap:12px}.panels figure{margin:0}.panels img{max-width:540px;width:100%;border:1px solid #999}
.key span{display:inline-block;width:14px;height:4px;margin:0 4px 3px 10px;vertical-align:middle}
"""


def _f(v: float | None, digits: int = 3) -> str:
    return "null" if v is None else f"{v:.{digits}f}"


def _summary_table(cols: Sequence[Column]) -> str:
    head = "<tr><th>reward</th><th>n</th><th>mean</th><th>std</th><th>min</th><th>max</th><th>null</th><th>commonest reasons</th></tr>"
    body = []
    for col in cols:
        s = col.summary()
        reasons = ", ".join(f"{escape(r)} &times;{n}" for r, n in s["reasons"]) or "&mdash;"
        cells = "".join(f'<td class="num">{x}</td>' for x in (s["n"], _f(s["mean"]), _f(s["std"]), _f(s["min"]), _f(s["max"]), s["null"]))
        body.append(f"<tr><td>{escape(s['reward'])}</td>{cells}<td>{reasons}</td></tr>")
    return f'<table id="summary">{head}{"".join(body)}</table>'


def _frame_banner(check: dict[str, Any] | None) -> str:
    """Whether the model answers in another frame, and whether the iou column converted.

    A yellow warning when boxes need converting and either there is no iou column or its
    mean sits nearer the unconverted comparison: the reward compared them as given.
    """
    if not check:
        return ""
    conv, raw, scored = check["converted"], check["unconverted"], check.get("iou_mean")
    text = (
        f"Over {check['n']} box rows whose boxes need converting, mean best IoU is {conv:.3f} with predictions "
        f"converted to original pixels and {raw:.3f} comparing the numbers as given."
    )
    if conv - raw <= 0.2:
        return f'<p id="frame-check">{text}</p>'
    text += " The numbers as given do not line up with the ground truth: the model answers in another frame."
    advice = (
        " Set the iou reward's <code>frame</code> param (input, norm1000, norm1, or auto with "
        "<code>model_family</code>) and make sure rows carry <code>image_size</code> and <code>input_size</code>."
    )
    if scored is None:
        return f'<p class="warn" id="frame-check">{text}{advice}</p>'
    if abs(scored - raw) < abs(scored - conv):
        text += (
            f" The iou column (mean {scored:.3f}) matches the comparison as given: the reward compared boxes "
            f"in the wrong frame.{advice}"
        )
        return f'<p class="warn" id="frame-check">{text}</p>'
    text += f" The iou column (mean {scored:.3f}) matches the converted comparison: the reward converts frames."
    return f'<p id="frame-check">{text}</p>'


def _by_task(cols: Sequence[Column], rows: Sequence[dict[str, Any]]) -> str:
    """Mean of each column per task, for mixed files: a reward that never applies shows as null."""
    tasks = sorted({str(r.get("task")) for r in rows if r.get("task") is not None})
    if len(tasks) < 2:
        return ""
    head = "<tr><th>task</th><th>rows</th>" + "".join(f"<th>{escape(c.name)}</th>" for c in cols) + "</tr>"
    body = []
    for task in tasks:
        idx = [i for i, r in enumerate(rows) if str(r.get("task")) == task]
        cells = []
        for c in cols:
            vals = [c.values[i] for i in idx if c.values[i] is not None]
            cells.append(f'<td class="num">{_f(sum(vals) / len(vals)) if vals else "null"}</td>')
        body.append(f'<tr><td>{escape(task)}</td><td class="num">{len(idx)}</td>{"".join(cells)}</tr>')
    return f'<h3>Mean by task</h3><table id="by-task">{head}{"".join(body)}</table>'


def _unscored(rows: Sequence[dict[str, Any]]) -> str:
    """Input lines `vlmr1 score` could not read: kept as records with reason ``_input``."""
    bad = [(r.get("_line"), (r.get("reasons") or {}).get("_input")) for r in rows if "_input" in (r.get("reasons") or {})]
    if not bad:
        return ""
    items = "".join(f"<li>input line {escape(n)}: {escape(why)}</li>" for n, why in bad[:20])
    more = f"<li>... and {len(bad) - 20} more</li>" if len(bad) > 20 else ""
    return f'<p class="warn" id="unscored">{len(bad)} input line(s) could not be read and were not scored:</p><ul>{items}{more}</ul>'


def _boxes(view: BoxView) -> str:
    (w, h), (iw, ih) = view.image_size, view.input_size
    key = (
        '<p class="key">'
        '<span style="background:rgb(0,170,0)"></span>ground truth'
        '<span style="background:rgb(220,0,0)"></span>prediction (converted into this frame)'
        + ('<span style="background:rgb(255,140,0)"></span>prediction as given, no conversion' if view.frame != "original" else "")
        + "</p>"
    )
    ious = f"IoU converted from frame <b>{escape(view.frame)}</b>: {_f(view.iou_converted)}; IoU of the numbers as given: {_f(view.iou_unconverted)}"
    note = "".join(f'<p class="note">{escape(n)}</p>' for n in (view.frame_note, view.image_note) if n)
    panels = (
        f'<figure><img src="{view.files["input"]}" alt="model input frame"><figcaption>model input frame {iw}&times;{ih}</figcaption></figure>'
        f'<figure><img src="{view.files["original"]}" alt="original frame"><figcaption>original image {w}&times;{h}</figcaption></figure>'
    )
    return f'{key}<p>{ious}</p>{note}<div class="panels">{panels}</div>'


def _sample(i: int, row: dict[str, Any], view: BoxView | None) -> str:
    scores = "".join(
        f"<tr><td>{escape(name)}</td><td class=\"num\">{_f(v if isinstance(v, (int, float)) else None)}</td>"
        f"<td>{escape((row.get('reasons') or {}).get(name, ''))}</td></tr>"
        for name, v in row["rewards"].items()
    )
    total = row.get(TOTAL)
    title = f"row {i + 1}" + (f" &middot; id {escape(row['id'])}" if row.get("id") is not None else "")
    title += f" &middot; task {escape(row['task'])}" if row.get("task") else ""
    title += f" &middot; total {_f(total if isinstance(total, (int, float)) else None)}"
    completion = row.get("completion", "")
    return (
        f'<div class="sample" id="row-{i + 1}"><h3>{title}</h3>'
        f"<table><tr><th>reward</th><th>score</th><th>reason</th></tr>{scores}</table>"
        f"<p><b>completion</b></p><pre>{escape(completion)}</pre>"
        f"<p><b>solution</b></p><pre>{escape(row.get('solution'))}</pre>"
        + (_boxes(view) if view else "")
        + "</div>"
    )


def page(
    source: str,
    cols: Sequence[Column],
    hist: dict[str, str],
    rows: Sequence[dict[str, Any]],
    low: Sequence[int],
    high: Sequence[int],
    by: str,
    views: dict[int, BoxView],
    frame_check: dict[str, Any] | None,
) -> str:
    hists = "".join(f'<img src="{hist[c.name]}" alt="histogram of {escape(c.name)}">' for c in cols)
    lows = "".join(_sample(i, rows[i], views.get(i)) for i in low) or "<p>No row has a score in this column.</p>"
    highs = "".join(_sample(i, rows[i], views.get(i)) for i in high) or "<p>Every scored row is shown above.</p>"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>vlmr1 report: {escape(source)}</title>
<style>{CSS}</style></head><body>
<h1>vlmr1 report: {escape(source)}</h1>
<p>{len(rows)} scored rows. Samples are ranked by <b>{escape(by)}</b>.</p>
{_frame_banner(frame_check)}
<h2>Summary</h2>{_summary_table(cols)}{_by_task(cols, rows)}{_unscored(rows)}
<h2>Distributions</h2><div class="hists">{hists}</div>
<h2 id="lowest">Lowest {len(low)}</h2>{lows}
<h2 id="highest">Highest {len(high)}</h2>{highs}
</body></html>
"""
