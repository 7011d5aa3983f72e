"""`vlmr1 inspect` on a scored file it should not trust: image paths that leave the image
roots, decompression bombs, sizes no one could allocate, scores that are not numbers."""

from __future__ import annotations

import json
import os
import resource
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from PIL import Image

from vlmr1 import report
from vlmr1.report import build_report

VLMR1 = str(Path(sys.executable).with_name("vlmr1"))
SECRET = (255, 0, 0)  # the colour of the image outside the roots: it must never reach a panel


def _row(i: int, image, size=(40, 30), **extra) -> dict:
    return {"id": f"r{i}", "task": "rec", "image": image, "image_size": list(size), "solution": [2, 2, 10, 10],
            "completion": "<answer>[2, 2, 10, 10]</answer>", "rewards": {"iou": i / 100}, "reward": i / 100,
            "reasons": {"iou": "ok"}, **extra}


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _notes(html: str) -> list[str]:
    import re

    return re.findall(r'<p class="note">(.*?)</p>', html)


# -- image paths --------------------------------------------------------------------------
@pytest.fixture()
def tree(tmp_path):
    inside, outside = tmp_path / "inside", tmp_path / "outside"
    inside.mkdir()
    outside.mkdir()
    Image.new("RGB", (40, 30), SECRET).save(outside / "secret.png")
    (outside / "shadow").write_text("root:$6$salt$hash:19000:0:99999:7:::\n")
    Image.new("RGB", (40, 30), (255, 255, 255)).save(inside / "white.png")
    (inside / "link.png").symlink_to(outside / "secret.png")
    return inside, outside


def test_image_paths_outside_the_roots_are_never_opened_nor_confirmed(tree):
    inside, outside = tree
    refs = [str(outside / "secret.png"), str(outside / "shadow"), str(outside / "no-such-file"),
            "../outside/secret.png", "../outside/no-such-file", "link.png", "./sub/../../outside/shadow", "white.png"]
    scored = _write(inside / "scored.jsonl", [_row(i, ref) for i, ref in enumerate(refs)])
    opened: list[str] = []
    watching = [True]

    def audit(event, args):
        if watching[0] and event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
            opened.append(os.fsdecode(args[0]))

    sys.addaudithook(audit)
    try:
        index = build_report(scored, inside / "report", k=len(refs))
    finally:
        watching[0] = False
    assert not [p for p in opened if str(outside) in os.path.realpath(p)], opened
    html = index.read_text(encoding="utf-8")
    assert "cannot identify" not in html and "root:" not in html
    notes = _notes(html)
    # the same words whether the file outside exists, is not an image, or is not there at all
    leaks = {n.replace(report.escape(ref), "REF") for n in notes for ref in refs[:5] if report.escape(ref) in n}
    assert len(leaks) == 1 and "outside the image roots" in leaks.pop()
    for i in range(len(refs)):
        colours = {c for _, c in Image.open(index.parent / f"box_{i}_original.png").convert("RGB").getcolors(1 << 16)}
        assert SECRET not in colours, refs[i]
    white = {c for _, c in Image.open(index.parent / f"box_{len(refs) - 1}_original.png").convert("RGB").getcolors(1 << 16)}
    assert (255, 255, 255) in white  # an image inside the root is still drawn


def test_an_absolute_path_inside_an_image_root_is_allowed(tree, tmp_path):
    inside, outside = tree
    scored = _write(tmp_path / "scored.jsonl", [_row(1, str(outside / "secret.png"))])
    index = build_report(scored, tmp_path / "report", image_roots=[outside], k=1)
    colours = {c for _, c in Image.open(index.parent / "box_0_original.png").convert("RGB").getcolors(1 << 16)}
    assert SECRET in colours


@pytest.mark.parametrize("ref", ["bad\x00name.png", 42, {"path": "x"}, "", ["white.png"]])
def test_odd_image_values_give_a_note(tree, ref):
    inside, _ = tree
    scored = _write(inside / "scored.jsonl", [_row(1, ref)])
    index = build_report(scored, inside / "report", k=1)
    assert (index.parent / "box_0_original.png").is_file()


# -- sizes ----------------------------------------------------------------------------------
def png_bomb(path: Path, w: int, h: int) -> Path:
    """A valid greyscale PNG of w x h black pixels, a few hundred kB on disk (written by hand)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    comp = zlib.compressobj(9)
    row = b"\x00" * (w + 1)
    data = b"".join(comp.compress(row) for _ in range(h)) + comp.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", data) + chunk(b"IEND", b""))
    return path


_WRAP = """
import atexit, sys
PEAK = sys.argv[1]
def _peak():  # this process's own high-water RSS (ru_maxrss would include the parent's, via fork)
    with open(PEAK, "w") as fh:
        fh.write(next(l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM")))
atexit.register(_peak)
sys.argv = ["vlmr1", *sys.argv[2:]]
from vlmr1.cli import main
main()
"""


def _inspect(scored: Path, out: Path, limit_gb: float = 3.0) -> tuple[int, str, float]:
    """Run `vlmr1 inspect` in a child capped at ``limit_gb`` of address space; (exit code,
    stderr, the child's own peak RSS in MB)."""
    limit = int(limit_gb * 1024**3)
    peak = out.with_suffix(".peak")
    proc = subprocess.run([sys.executable, "-c", _WRAP, str(peak), "inspect", str(scored), "--out", str(out)],
                          capture_output=True, text=True, timeout=300,
                          preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit)))
    return proc.returncode, proc.stderr, (int(peak.read_text()) / 1024 if peak.exists() else float("inf"))


def test_a_decompression_bomb_png_is_refused_with_a_note(tmp_path):
    png_bomb(tmp_path / "bomb.png", 20000, 20000)  # 400 Mpx, 1.2 GB once decoded
    png_bomb(tmp_path / "big.png", 10000, 10000)  # 100 Mpx: under PIL's own bomb limit
    scored = _write(tmp_path / "scored.jsonl", [_row(1, "bomb.png", (20000, 20000)), _row(2, "big.png", (100, 100))])
    rc, err, peak = _inspect(scored, tmp_path / "report")
    assert rc == 0, err[-1500:]
    notes = _notes((tmp_path / "report" / "index.html").read_text(encoding="utf-8"))
    assert sum("more pixels than the report decodes" in n for n in notes) == 2, notes
    assert peak < 400, f"peak RSS {peak:.0f} MB"


def test_huge_sizes_in_a_row_are_drawn_small_not_allocated(tmp_path):
    rows = [_row(1, "none.png", (100_000, 100_000)), _row(2, "none.png", (100, 100), input_size=[60_000, 60_000]),
            _row(3, "none.png", (1, 10**9))]
    scored = _write(tmp_path / "scored.jsonl", rows)
    rc, err, peak = _inspect(scored, tmp_path / "report")
    assert rc == 0, err[-1500:]
    for i in range(3):
        for key in ("original", "input"):
            assert max(Image.open(tmp_path / "report" / f"box_{i}_{key}.png").size) <= report.MAX_SIDE
    assert peak < 500, f"peak RSS {peak:.0f} MB"


# -- scores -----------------------------------------------------------------------------------
def test_infinity_nan_and_huge_scores_do_not_break_the_report(tmp_path):
    lines = [
        '{"id": 1, "rewards": {"a": Infinity, "b": 1e308}, "reward": NaN}',
        '{"id": 2, "rewards": {"a": 0.5, "b": -1.7e308}, "reward": 1.7e308}',
        '{"id": 3, "rewards": {"a": -Infinity, "b": 1.7e308}, "reward": 0.25}',
        '{"id": 4, "rewards": {"a": 0.75, "b": 1.7e308}, "reward": 1.7e308}',
    ]
    scored = tmp_path / "scored.jsonl"
    scored.write_text("\n".join(lines) + "\n")
    index = build_report(scored, tmp_path / "report", k=2)
    html = index.read_text(encoding="utf-8")
    a = next(c for c in report.columns_of(report.read_scored(scored)) if c.name == "a")
    assert a.summary()["mean"] == pytest.approx(0.625) and a.summary()["null"] == 2
    assert "non-finite" in html
    for i in range(3):
        assert Image.open(index.parent / f"hist_{i}.png").size == (400, 260)
