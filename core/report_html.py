"""The HTML of `vlmr1 inspect`'s report: one self-contained page, no scripts, no network.

Every value that came from a data file (completions, solutions, reasons, ids) or from a
plugin's report view (notes, notices, labels) is HTML-escaped: completions are untrusted
model output.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any, Protocol, Sequence

from .report_draw import Panel
from .reportviews import Notice

TOTAL = "reward"  # the weighted total's key in a scored row


class ColumnLike(Protocol):
    name: str
    values: list[float | None]

    def summary(self) -> dict[str, Any]: ...


def escape(v: Any) -> str:
    """Any value as HTML-safe text (completions are untrusted model output)."""
    return html.escape(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str), quote=True)


_CODE = re.compile(r"`([^`<>]{1,200})`")


def _text(message: str) -> str:
    """Escaped text in which `backticks` become <code>: the only markup a notice may carry."""
    return _CODE.sub(r"<code>\1</code>", escape(message))

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
.notice{background:#eef4fb;border:1px solid #9bb8d9;padding:10px;border-radius:6px}
"""


def _f(v: float | None, digits: int = 3) -> str:
    return "null" if v is None else f"{v:.{digits}f}"


def _summary_table(cols: Sequence[ColumnLike]) -> str:
    head = ("<tr><th>reward</th><th>n</th><th>mean</th><th>std</th><th>min</th><th>max</th><th>null</th><th>errors</th>"
            "<th>timeouts</th><th>commonest reasons</th></tr>")
    body = []
    for col in cols:
        s = col.summary()
        reasons = ", ".join(f"{escape(r)} &times;{n}" for r, n in s["reasons"]) or "&mdash;"
        nums = (s["n"], _f(s["mean"]), _f(s["std"]), _f(s["min"]), _f(s["max"]), s["null"], s["errors"], s["timeouts"])
        cells = "".join(f'<td class="num">{x}</td>' for x in nums)
        body.append(f"<tr><td>{escape(s['reward'])}</td>{cells}<td>{reasons}</td></tr>")
    return f'<table id="summary">{head}{"".join(body)}</table>'


def _notices(notices: Sequence[Notice]) -> str:
    """What the report views' checks said about the file; warnings highlighted."""
    out, seen = [], set()
    for n in notices:
        key = n.key if n.key not in seen else f"{n.key}-{len(seen)}"
        seen.add(key)
        cls = "warn" if n.level == "warning" else "notice"
        out.append(f'<p class="{cls}" id="{escape(key)}"><b>{_text(n.title)}.</b> {_text(n.message)}</p>')
    return "".join(out)


def _by_task(cols: Sequence[ColumnLike], rows: Sequence[dict[str, Any]]) -> str:
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


_KEY = {
    "gold": '<span style="background:rgb(0,170,0)"></span>ground truth',
    "prediction": '<span style="background:rgb(220,0,0)"></span>prediction (converted into this frame)',
    "as_given": '<span style="background:rgb(255,140,0)"></span>prediction as given, no conversion',
}


def _panel(panel: Panel) -> str:
    """One view's pictures of a row: the model-input frame and the original image, with
    a colour key for the roles drawn, the view's notes and a note about the image."""
    notes = "".join(f'<p class="view-note">{_text(n)}</p>' for n in panel.notes)
    if not panel.files or panel.image_size is None:
        return f'<div class="view" data-view="{escape(panel.view)}">{notes}</div>'
    (w, h), (iw, ih) = panel.image_size, panel.input_size or panel.image_size
    key = '<p class="key">' + "".join(_KEY[r] for r in _KEY if r in panel.roles) + "</p>"
    image_note = f'<p class="note">{escape(panel.image_note)}</p>' if panel.image_note else ""
    pictures = (
        f'<figure><img src="{panel.files["input"]}" alt="model input frame"><figcaption>model input frame {iw}&times;{ih}</figcaption></figure>'
        f'<figure><img src="{panel.files["original"]}" alt="original frame"><figcaption>original image {w}&times;{h}</figcaption></figure>'
    )
    return f'<div class="view" data-view="{escape(panel.view)}">{key}{notes}{image_note}<div class="panels">{pictures}</div></div>'


def _sample(i: int, row: dict[str, Any], panels: Sequence[Panel]) -> str:
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
        + "".join(_panel(p) for p in panels)
        + "</div>"
    )


def page(
    source: str,
    cols: Sequence[ColumnLike],
    hist: dict[str, str],
    rows: Sequence[dict[str, Any]],
    low: Sequence[int],
    high: Sequence[int],
    by: str,
    panels: dict[int, list[Panel]],
    notices: Sequence[Notice],
) -> str:
    hists = "".join(f'<img src="{hist[c.name]}" alt="histogram of {escape(c.name)}">' for c in cols)
    lows = "".join(_sample(i, rows[i], panels.get(i, [])) for i in low) or "<p>No row has a score in this column.</p>"
    highs = "".join(_sample(i, rows[i], panels.get(i, [])) for i in high) or "<p>Every scored row is shown above.</p>"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>vlmr1 report: {escape(source)}</title>
<style>{CSS}</style></head><body>
<h1>vlmr1 report: {escape(source)}</h1>
<p>{len(rows)} scored rows. Samples are ranked by <b>{escape(by)}</b>.</p>
{_notices(notices)}
<h2>Summary</h2>{_summary_table(cols)}{_by_task(cols, rows)}{_unscored(rows)}
<h2>Distributions</h2><div class="hists">{hists}</div>
<h2 id="lowest">Lowest {len(low)}</h2>{lows}
<h2 id="highest">Highest {len(high)}</h2>{highs}
</body></html>
"""
