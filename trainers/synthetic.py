"""A grounding and counting dataset drawn in code, with exact ground truth.

Coloured squares, circles and triangles on non-square canvases: for ``rec`` rows
one shape has a colour/shape pair no other shape has ("find the red square") and
its box is known to the pixel; for ``counting`` rows the answer is the number of
shapes of one kind. Canvases are deliberately not square and vary in aspect, so the
processor's resize changes the aspect and a reward that mixes coordinate frames is
caught at once. Everything is a pure function of the seed.

Rows use vlmr1's row format (``id``, ``task``, ``problem``, ``image``,
``image_size`` [w, h], ``solution``: a box [x1, y1, x2, y2] in original pixels with
exclusive right/bottom edges, or a count) plus ``answer``: a format-correct
reference completion for a supervised warm-up, written in the frame the model
answers in (see :func:`reference_answer`).
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from vlmr1 import frames

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30), "green": (30, 170, 60), "blue": (40, 70, 220),
    "yellow": (235, 200, 20), "purple": (140, 50, 170), "orange": (245, 130, 20),
}
SHAPES = ("square", "circle", "triangle")
TASKS = ("rec", "counting")
# vlmr1.frames' frames in which an answer is written in whole numbers (not norm1's [0, 1])
FRAMES = tuple(f for f in frames.FRAMES if f != "norm1")


@dataclass(frozen=True)
class SyntheticSpec:
    """What to draw. Sides are drawn from [min_side, max_side]; width != height always."""

    n: int = 32
    seed: int = 0
    tasks: tuple[str, ...] = TASKS
    min_side: int = 64
    max_side: int = 224
    max_shapes: int = 5
    answer_frame: str = "input"
    cell: int = 0
    distractors: int | None = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> SyntheticSpec:
        from dataclasses import fields

        from vlmr1.errors import ConfigError

        data = dict(data or {})
        known = {f.name for f in fields(cls)} | {"dir"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"data.synthetic: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}.")
        data.pop("dir", None)
        if "tasks" in data:
            data["tasks"] = tuple([data["tasks"]] if isinstance(data["tasks"], str) else data["tasks"])
        spec = cls(**data)
        spec.check()
        return spec

    def check(self) -> None:
        from vlmr1.errors import ConfigError

        bad = [t for t in self.tasks if t not in TASKS]
        if bad or not self.tasks:
            raise ConfigError(f"data.synthetic.tasks: {bad or 'empty'}; choose from {', '.join(TASKS)}.")
        if self.answer_frame not in FRAMES:
            raise ConfigError(f"data.synthetic.answer_frame {self.answer_frame!r}: choose one of {', '.join(FRAMES)}.")
        if not (16 <= self.min_side < self.max_side):
            raise ConfigError("data.synthetic: need 16 <= min_side < max_side.")
        if self.n < 1 or self.max_shapes < 2:
            raise ConfigError("data.synthetic: need n >= 1 and max_shapes >= 2.")
        if self.cell and not (12 <= self.cell and 2 * self.cell <= self.min_side):
            raise ConfigError("data.synthetic.cell: 0 (shapes anywhere) or at least 12 pixels and at most min_side / 2.")
        if self.distractors is not None and self.distractors < 0:
            raise ConfigError("data.synthetic.distractors: 0 or more.")


@dataclass
class Scene:
    """One drawn picture and what is in it."""

    size: tuple[int, int]
    shapes: list[tuple[str, str, list[int]]] = field(default_factory=list)  # (colour, shape, box)


def _place(rng: random.Random, size: tuple[int, int], taken: list[list[int]]) -> list[int] | None:
    w, h = size
    for _ in range(50):
        side = rng.randint(max(8, min(w, h) // 6), max(10, min(w, h) // 3))
        x1, y1 = rng.randint(0, w - side), rng.randint(0, h - side)
        box = [x1, y1, x1 + side, y1 + side]
        if all(box[2] + 2 <= o[0] or o[2] + 2 <= box[0] or box[3] + 2 <= o[1] or o[3] + 2 <= box[1] for o in taken):
            return box
    return None


def _canvas(rng: random.Random, spec: SyntheticSpec) -> tuple[int, int]:
    if spec.cell:  # whole cells; sides differ by at least one cell
        lo, hi = -(-spec.min_side // spec.cell), spec.max_side // spec.cell
        while True:
            w, h = rng.randint(lo, hi), rng.randint(lo, hi)
            if w != h:
                return w * spec.cell, h * spec.cell
    while True:
        w, h = rng.randint(spec.min_side, spec.max_side), rng.randint(spec.min_side, spec.max_side)
        if abs(w - h) >= max(8, min(w, h) // 5):
            return w, h


def draw(scene: Scene, background: tuple[int, int, int] = (245, 245, 240)) -> Any:
    """The PIL image of a scene; a box [x1, y1, x2, y2] covers pixels x1..x2-1, y1..y2-1."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", scene.size, background)
    pen = ImageDraw.Draw(image)
    for colour, shape, (x1, y1, x2, y2) in scene.shapes:
        fill = COLOURS[colour]
        if shape == "square":
            pen.rectangle([x1, y1, x2 - 1, y2 - 1], fill=fill)
        elif shape == "circle":
            pen.ellipse([x1, y1, x2 - 1, y2 - 1], fill=fill)
        else:
            pen.polygon([((x1 + x2 - 1) / 2, y1), (x2 - 1, y2 - 1), (x1, y2 - 1)], fill=fill)
    return image


def _cells(rng: random.Random, size: tuple[int, int], cell: int) -> list[tuple[int, int]]:
    """The top-left corners of a canvas's cells, in random order."""
    corners = [(x, y) for x in range(0, size[0], cell) for y in range(0, size[1], cell)]
    rng.shuffle(corners)
    return corners


def _in_cell(rng: random.Random, corner: tuple[int, int], cell: int) -> list[int]:
    """A square box filling most of one cell, at least 2 pixels clear of its edges."""
    room = cell - 4
    side = rng.randint(max(8, round(room * 0.7)), room)
    x1, y1 = corner[0] + rng.randint(2, cell - 2 - side), corner[1] + rng.randint(2, cell - 2 - side)
    return [x1, y1, x1 + side, y1 + side]


def cell_rec_scene(rng: random.Random, spec: SyntheticSpec) -> tuple[Scene, str, list[int]]:
    """The target fills most of one cell; other shapes (other colour or kind) fill other cells."""
    target = (rng.choice(sorted(COLOURS)), rng.choice(SHAPES))
    scene = Scene(_canvas(rng, spec))
    corners = _cells(rng, scene.size, spec.cell)
    box = _in_cell(rng, corners[0], spec.cell)
    scene.shapes.append((*target, box))
    others = spec.distractors if spec.distractors is not None else rng.randint(1, spec.max_shapes - 1)
    for corner in corners[1:1 + others]:
        other = target
        while other == target:
            other = (rng.choice(sorted(COLOURS)), rng.choice(SHAPES))
        scene.shapes.append((*other, _in_cell(rng, corner, spec.cell)))
    return scene, f"{target[0]} {target[1]}", box


def rec_scene(rng: random.Random, spec: SyntheticSpec) -> tuple[Scene, str, list[int]]:
    """A scene whose first shape is the only one of its colour and shape."""
    if spec.cell:
        return cell_rec_scene(rng, spec)
    target = (rng.choice(sorted(COLOURS)), rng.choice(SHAPES))
    box = None
    while box is None:
        scene = Scene(_canvas(rng, spec))
        box = _place(rng, scene.size, [])
    scene.shapes.append((*target, box))
    for _ in range(rng.randint(1, spec.max_shapes - 1)):
        other = (rng.choice(sorted(COLOURS)), rng.choice(SHAPES))
        if other == target:
            continue
        where = _place(rng, scene.size, [s[2] for s in scene.shapes])
        if where is not None:
            scene.shapes.append((*other, where))
    return scene, f"{target[0]} {target[1]}", box


def cell_counting_scene(rng: random.Random, spec: SyntheticSpec) -> tuple[Scene, str, int]:
    """1 to ``max_shapes`` shapes of one kind, one per cell, about the same size, and
    ``distractors`` (default none) of other kinds."""
    scene = Scene(_canvas(rng, spec))
    kind = rng.choice(SHAPES)
    corners = _cells(rng, scene.size, spec.cell)
    count = rng.randint(1, min(spec.max_shapes, len(corners)))
    others = min(spec.distractors or 0, len(corners) - count)
    for i, corner in enumerate(corners[:count + others]):
        shape = kind if i < count else rng.choice([s for s in SHAPES if s != kind])
        scene.shapes.append((rng.choice(sorted(COLOURS)), shape, _in_cell(rng, corner, spec.cell)))
    return scene, kind, count


def counting_scene(rng: random.Random, spec: SyntheticSpec) -> tuple[Scene, str, int]:
    """A scene with a known number of shapes of one kind among others."""
    if spec.cell:
        return cell_counting_scene(rng, spec)
    scene = Scene(_canvas(rng, spec))
    kind = rng.choice(SHAPES)
    want = rng.randint(1, spec.max_shapes - 1)
    count = 0
    for i in range(spec.max_shapes + 2):
        shape = kind if i < want else rng.choice([s for s in SHAPES if s != kind])
        where = _place(rng, scene.size, [s[2] for s in scene.shapes])
        if where is None:
            continue
        scene.shapes.append((rng.choice(sorted(COLOURS)), shape, where))
        count += shape == kind
    return scene, kind, count


def frame_box(box: Sequence[float], image_size: Sequence[int], input_size: Sequence[int] | None, frame: str) -> list[int]:
    """A box given in original pixels, in the frame a model answers in.

    ``original``: pixels of the image file. ``input``: pixels of the resized model input
    (Qwen2.5-VL). ``norm1000``: scaled to [0, 1000) (Qwen2-VL).
    """
    if frame not in FRAMES:
        raise ValueError(f"unknown frame {frame!r}; choose one of {', '.join(FRAMES)}")
    if frame == "input" and input_size is None:
        raise ValueError("frame 'input' needs the model-input size (pass a processor when loading rows)")
    size = tuple(input_size) if input_size is not None else None
    return [round(v) for v in frames.from_original(box, frame, tuple(image_size), size)]  # type: ignore[arg-type]


def where_in(box: Sequence[float], image_size: Sequence[int]) -> str:
    """Words for where a box lies ("near the top left", "in the middle")."""
    cx, cy = (box[0] + box[2]) / 2 / image_size[0], (box[1] + box[3]) / 2 / image_size[1]
    col = "left" if cx < 1 / 3 else "right" if cx > 2 / 3 else ""
    row = "top" if cy < 1 / 3 else "bottom" if cy > 2 / 3 else ""
    if not col and not row:
        return "in the middle"
    return f"near the {' '.join(w for w in (row, col) if w)}"


def reference_answer(row: Mapping[str, Any], frame: str = "input") -> str:
    """A format-correct completion for ``row`` (think, then the answer in ``frame``)."""
    if row["task"] == "counting":
        return f"<think>I count the {row['target']}s one by one.</think><answer>{row['solution']}</answer>"
    size = row.get("input_size") if frame == "input" else row["image_size"]
    if frame == "input" and size is None:
        frame = "original"
    box = frame_box(row["solution"], row["image_size"], row.get("input_size"), frame)
    return (f"<think>The {row['target']} is {where_in(row['solution'], row['image_size'])}.</think>"
            f"<answer>{json.dumps({'bbox_2d': box})}</answer>")


def make_rows(spec: SyntheticSpec, out_dir: str | Path) -> list[dict[str, Any]]:
    """Draw ``spec.n`` images into ``out_dir/images`` and return their rows (also in rows.jsonl)."""
    spec.check()
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    rng = random.Random(spec.seed)
    rows = []
    for i in range(spec.n):
        task = spec.tasks[i % len(spec.tasks)]
        row_id = f"synthetic-{spec.seed}-{i:05d}"
        if task == "rec":
            scene, target, solution = rec_scene(rng, spec)
            problem = f"Find the {target}."
        else:
            scene, target, solution = counting_scene(rng, spec)
            problem = f"How many {target}s are in the image?"
        path = out / "images" / f"{row_id}.png"
        _atomic(path, lambda tmp, scene=scene: draw(scene).save(tmp, format="PNG"))
        rows.append({
            "id": row_id, "task": task, "problem": problem, "image": str(path.resolve()),
            "image_size": list(scene.size), "solution": solution, "target": target,
        })
    for row in rows:
        row["answer"] = reference_answer(row, "original")
    text = "".join(json.dumps(row) + "\n" for row in rows)
    _atomic(out / "rows.jsonl", lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return rows


def _atomic(path: Path, write: Any) -> None:
    """Write through a temporary file and rename, so processes drawing the same
    dataset at once (one per GPU) never read a half-written file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    write(tmp)
    os.replace(tmp, path)


def with_answers(rows: list[dict[str, Any]], frame: str) -> list[dict[str, Any]]:
    """Rows whose ``answer`` is rewritten in ``frame`` (after ``input_size`` is known)."""
    return [{**row, "answer": reference_answer(row, frame)} for row in rows]
