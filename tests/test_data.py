"""Loading training rows: VLM-R1 mixtures and row formats, plain JSONL, datasets rows,
sampling strategies, errors that name file and line, and image sizes in both frames."""

from __future__ import annotations

import json
import random
import textwrap

import pytest
from PIL import Image
from vlmr1.errors import ConfigError
from vlmr1.trainers import data
from vlmr1.trainers.data import DataError, Strategy

SIZES = [(120, 80), (64, 150), (333, 97), (200, 201), (50, 40)]


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture()
def vlmr1_dir(tmp_path):
    """A VLM-R1-style layout: images under coco/, a grounding .json (grpo_rec rows) and a
    counting .jsonl (grpo_jsonl `conversations` rows), and a mixture YAML beside them."""
    images = tmp_path / "coco" / "train"
    images.mkdir(parents=True)
    for i, size in enumerate(SIZES):
        Image.new("RGB", size, (i * 40, 100, 200)).save(images / f"im{i}.png")
    rec = [{"image": f"train/im{i}.png", "problem": f"the thing number {i}",
            "solution": f"<answer> [{i}, {i + 1}, {i + 10}, {i + 12}] </answer>"} for i in range(5)]
    (tmp_path / "ann").mkdir()
    (tmp_path / "ann" / "rec.json").write_text(json.dumps(rec))
    count = [{"id": i, "image": f"train/im{i % 5}.png",
              "conversations": [{"from": "human", "value": "<image>How many circles are there?"},
                                {"from": "gpt", "value": str(i % 4)}]} for i in range(10)]
    _write_jsonl(tmp_path / "ann" / "count.jsonl", count)
    return tmp_path


def _mixture(root, body):
    path = root / "mix.yaml"
    path.write_text(textwrap.dedent(body))
    return path


def test_strategy_parsing_and_counts():
    assert Strategy.parse("all").count(7) == 7
    assert Strategy.parse("first:3").count(7) == 3
    assert Strategy.parse("end:30").count(7) == 7  # never more than there are
    assert Strategy.parse("first:10%").count(15) == 2  # VLM-R1 rounds percentages up
    assert Strategy.parse("50%") == Strategy("random", 50.0, True)
    for bad in ["some", "first:", "first:1.5", "top:3", "random:-1", "", None]:
        with pytest.raises(ValueError, match="sampling_strategy"):
            Strategy.parse(bad)


def test_strategies_pick_the_right_rows():
    items = list(range(20))
    assert Strategy.parse("first:4").apply(items, random.Random(0)) == [0, 1, 2, 3]
    assert Strategy.parse("end:3").apply(items, random.Random(0)) == [17, 18, 19]
    a = Strategy.parse("random:5").apply(items, random.Random(1))
    b = Strategy.parse("random:5").apply(items, random.Random(1))
    c = Strategy.parse("random:5").apply(items, random.Random(2))
    assert a == b != c and a == sorted(a) and len(set(a)) == 5
    assert len(Strategy.parse("25%").apply(items, random.Random(0))) == 5


def test_mixture_converts_vlmr1_rows(vlmr1_dir):
    path = _mixture(vlmr1_dir, """\
        image_root: coco
        datasets:
          - json_path: ann/rec.json
            task: rec
          - json_path: ann/count.jsonl
            sampling_strategy: first:4
            task: counting
        """)
    rows = data.load_mixture(path)
    assert len(rows) == 9
    rec, count = rows[0], rows[5]
    assert rec["task"] == "rec" and rec["solution"] == [0, 1, 10, 12] and rec["problem"] == "the thing number 0"
    assert rec["image"] == str((vlmr1_dir / "coco" / "train" / "im0.png").resolve())
    assert rec["source"] == f"{vlmr1_dir / 'ann' / 'rec.json'}[0]"
    assert count["problem"] == "How many circles are there?" and count["solution"] == "0"
    assert "conversations" not in count and count["id"] == "0"
    assert count["source"] == f"{vlmr1_dir / 'ann' / 'count.jsonl'}:1"
    assert len({r["id"] for r in rows}) == 9


def test_random_sampling_is_seeded(vlmr1_dir):
    path = _mixture(vlmr1_dir, """\
        datasets:
          - {json_path: ann/count.jsonl, sampling_strategy: "random:4", image_root: coco}
        """)
    ids = lambda seed: [r["id"] for r in data.load_mixture(path, seed=seed)]
    assert ids(3) == ids(3) and len(ids(3)) == 4
    assert any(ids(3) != ids(s) for s in range(4, 10))


def test_entry_image_root_wins_and_default_root_is_the_data_folder(vlmr1_dir):
    (vlmr1_dir / "ann" / "train").mkdir()
    Image.new("RGB", (30, 20)).save(vlmr1_dir / "ann" / "train" / "im0.png")
    _write_jsonl(vlmr1_dir / "ann" / "one.jsonl", [{"image": "train/im0.png", "problem": "q", "solution": 1}])
    rows = data.load_jsonl(vlmr1_dir / "ann" / "one.jsonl")
    assert rows[0]["image"] == str((vlmr1_dir / "ann" / "train" / "im0.png").resolve())
    path = _mixture(vlmr1_dir, """\
        image_root: nowhere
        datasets:
          - {json_path: ann/one.jsonl, image_root: coco}
        """)
    assert data.load_mixture(path)[0]["image"] == str((vlmr1_dir / "coco" / "train" / "im0.png").resolve())


def test_missing_images_are_errors_naming_file_line_row_and_path(vlmr1_dir):
    rows = [{"id": "a", "image": "train/im0.png", "problem": "q", "solution": 1},
            {"id": "gone", "image": "train/nope.png", "problem": "q", "solution": 1},
            {"id": "gone2", "image": ["train/im1.png", "train/also-nope.jpg"], "problem": "q", "solution": 1}]
    path = _write_jsonl(vlmr1_dir / "ann" / "m.jsonl", rows)
    with pytest.raises(DataError) as info:
        data.load_jsonl(path, image_root=vlmr1_dir / "coco")
    msg = str(info.value)
    assert "2 problem(s)" in msg
    assert f"{path}:2: row 'gone': image not found: {vlmr1_dir / 'coco' / 'train' / 'nope.png'}" in msg
    assert f"{path}:3: row 'gone2': image not found: {vlmr1_dir / 'coco' / 'train' / 'also-nope.jpg'}" in msg
    assert "image_root" in msg


def test_bad_rows_are_reported_with_their_lines(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join([
        json.dumps({"problem": "ok", "solution": 1}),
        "{not json",
        json.dumps({"problem": "q", "solution": 1, "image_size": [10]}),
        json.dumps({"solution": 1}),
        json.dumps({"problem": "no answer"}),
        json.dumps({"conversations": [{"from": "human", "value": "only a question"}]}),
        "[1, 2]",
    ]) + "\n")
    with pytest.raises(DataError) as info:
        data.load_jsonl(path)
    msg = str(info.value)
    assert f"{path}:2: not valid JSON" in msg
    assert f"{path}:3: $.image_size" in msg
    assert f"{path}:4: row 'bad-4' has no `problem`" in msg
    assert f"{path}:5: row 'bad-5' has no `solution`" in msg
    assert f"{path}:6: `conversations` must be a list of at least two messages" in msg
    assert f"{path}:7: expected a JSON object" in msg
    assert f"{path}:1" not in msg


def test_mixture_problems_point_at_yaml_lines(vlmr1_dir):
    path = _mixture(vlmr1_dir, """\
        datasets:
          - json_path: ann/rec.json
            sampling_strategy: top:3
          - json_path: ann/count.jsonl
            samplng_strategy: all
          - json_path: ann/missing.jsonl
        """)
    with pytest.raises(DataError) as info:
        data.load_mixture(path)
    msg = str(info.value)
    assert f"{path}:3: sampling_strategy 'top:3'" in msg
    assert f"{path}:4: $.datasets[1]" in msg and "samplng_strategy" in msg  # the entry holding the typo
    path = _mixture(vlmr1_dir, "datasets:\n  - json_path: ann/missing.jsonl\n")
    with pytest.raises(DataError, match="missing.jsonl: no such data file"):
        data.load_mixture(path)


def test_stated_image_size_is_checked_against_the_file(vlmr1_dir):
    rows = [{"id": "r", "image": "train/im0.png", "problem": "q", "solution": [0, 0, 1, 1], "image_size": [80, 120]}]
    path = _write_jsonl(vlmr1_dir / "ann" / "s.jsonl", rows)
    loaded = data.load_jsonl(path, image_root=vlmr1_dir / "coco")
    with pytest.raises(DataError, match=r"image_size \[80, 120\] but .*im0.png is 120x80"):
        data.add_image_sizes(loaded)
    rows[0]["image_size"] = [120, 80]
    loaded = data.load_jsonl(_write_jsonl(path, rows), image_root=vlmr1_dir / "coco")
    assert data.add_image_sizes(loaded)[0]["image_size"] == [120, 80]


def test_a_processor_without_an_image_processor_is_refused_not_ignored(vlmr1_dir, tmp_path):
    """What AutoProcessor returns for a saved tiny model is its tokenizer alone: handed
    that, add_image_sizes says so instead of leaving input_size out (box rewards would
    then read Qwen2.5-VL answers in the wrong frame)."""
    from transformers import AutoProcessor
    from vlmr1.trainers import tiny

    saved = tiny.build_tiny_model("qwen2.5-vl", tmp_path / "m")
    auto = AutoProcessor.from_pretrained(saved)
    assert getattr(auto, "image_processor", None) is None  # the trap this guards against
    rows = [{"id": "r", "image": "train/im0.png", "problem": "q", "solution": [0, 0, 1, 1]}]
    loaded = data.load_jsonl(_write_jsonl(vlmr1_dir / "ann" / "p.jsonl", rows), image_root=vlmr1_dir / "coco")
    with pytest.raises(ConfigError, match=r"has no image processor.*tiny\.load_tiny"):
        data.add_image_sizes([dict(r) for r in loaded], auto)
    assert "input_size" in data.add_image_sizes([dict(r) for r in loaded], tiny.load_processor(saved))[0]
    assert "input_size" not in data.add_image_sizes([dict(r) for r in loaded])[0]  # no processor: image_size only
    text_only = [{"id": "t", "problem": "q", "solution": 1}]
    assert data.add_image_sizes(text_only, auto) == text_only  # rows without images need no image processor


def test_duplicate_ids_across_files_are_made_unique(vlmr1_dir):
    for name in ("x", "y"):
        _write_jsonl(vlmr1_dir / f"{name}.jsonl", [{"id": 1, "problem": "q", "solution": 1}])
    path = _mixture(vlmr1_dir, "datasets:\n  - {json_path: x.jsonl}\n  - {json_path: y.jsonl}\n")
    assert [r["id"] for r in data.load_mixture(path)] == ["1", "y-1"]


@pytest.mark.parametrize("kind", ["qwen2-vl", "qwen2.5-vl"])
def test_input_size_is_what_the_processor_feeds_the_model(kind, vlmr1_dir):
    from vlmr1.trainers import tiny

    _, processor = tiny.build(kind)
    path = _mixture(vlmr1_dir, "image_root: coco\ndatasets:\n  - {json_path: ann/rec.json}\n")
    rows = data.add_image_sizes(data.load_mixture(path), processor)
    patch = processor.image_processor.patch_size
    changed_aspect = 0
    for row in rows:
        image = Image.open(row["image"])
        assert row["image_size"] == list(image.size)
        grid = processor.image_processor(images=[image], return_tensors="np")["image_grid_thw"][0]
        assert row["input_size"] == [int(grid[2]) * patch, int(grid[1]) * patch]
        (w, h), (iw, ih) = row["image_size"], row["input_size"]
        changed_aspect += abs(w / h - iw / ih) > 0.01
    assert changed_aspect >= 3  # the resize really moves boxes differently in x and y


def test_input_sizer_fast_path_matches_the_processor_everywhere():
    from vlmr1.trainers import tiny

    sizer = data.InputSizer(tiny.build_processor("qwen2.5-vl"))
    assert sizer.fast is not None
    rng = random.Random(0)
    for _ in range(40):
        w, h = rng.randint(10, 900), rng.randint(10, 900)
        assert sizer._fast(w, h) == sizer._measured(w, h), (w, h)


def test_input_size_for_a_non_qwen_image_processor_is_measured():
    """A processor whose pixel budget is not readable still gets sizes from a real call."""
    from vlmr1.trainers import tiny

    processor = tiny.build_processor("qwen2-vl")

    class Opaque:
        def __init__(self, inner):
            self.inner, self.patch_size = inner, inner.patch_size

        def __call__(self, **kw):
            return self.inner(**kw)

    processor.image_processor = Opaque(processor.image_processor)
    sizer = data.InputSizer(processor)
    assert sizer.fast is None and sizer(333, 97) == data.InputSizer(tiny.build_processor("qwen2-vl"))(333, 97)


def test_datasets_rows_with_pil_images_paths_and_conversations(tmp_path, vlmr1_dir):
    import datasets

    pictures = [Image.new("RGB", (40 + i, 30), (i, 0, 0)) for i in range(3)]
    ds = datasets.Dataset.from_list([
        {"image": pictures[i], "problem": f"q{i}", "solution": f"<answer>{i}</answer>", "task": "counting"}
        for i in range(3)
    ])
    rows = data.load_dataset_rows(ds, name="mem", image_cache=tmp_path / "cache")
    assert [r["solution"] for r in rows] == ["0", "1", "2"]
    assert [Image.open(r["image"]).size for r in rows] == [(40, 30), (41, 30), (42, 30)]
    assert rows[1]["source"] == "mem[1]"
    again = data.load_dataset_rows(ds, name="mem", image_cache=tmp_path / "cache")
    assert [r["image"] for r in again] == [r["image"] for r in rows]  # stored once, by content
    # a saved dataset of VLM-R1 rows with relative paths, through the config entry point
    ds = datasets.Dataset.from_list([
        {"id": f"c{i}", "image": f"train/im{i}.png",
         "conversations": [{"from": "human", "value": "<image>count"}, {"from": "gpt", "value": "2"}]}
        for i in range(4)
    ])
    ds.save_to_disk(str(tmp_path / "saved"))
    rows = data.load_rows({"hf": "saved", "image_root": str(vlmr1_dir / "coco"), "task": "counting",
                           "sampling_strategy": "end:2"}, base_dir=tmp_path)
    assert [r["id"] for r in rows] == ["c2", "c3"] and rows[0]["image_size"] == list(SIZES[2])
    bad = datasets.Dataset.from_list([{"image": "train/none.png", "problem": "q", "solution": 1}])
    with pytest.raises(DataError, match=r"bad\[0\]: row '.*': image not found"):
        data.load_dataset_rows(bad, name="bad", image_root=vlmr1_dir / "coco")


def test_load_rows_sources(vlmr1_dir):
    from vlmr1.trainers import tiny

    with pytest.raises(ConfigError, match="exactly one of"):
        data.load_rows({})
    with pytest.raises(ConfigError, match="exactly one of"):
        data.load_rows({"jsonl": "a.jsonl", "mixture": "m.yaml"})
    rows = data.load_rows({"jsonl": "ann/count.jsonl", "image_root": "coco", "task": "counting",
                           "sampling_strategy": "first:3"}, base_dir=vlmr1_dir)
    assert [r["task"] for r in rows] == ["counting"] * 3 and "input_size" not in rows[0]
    processor = tiny.build_processor("qwen2.5-vl")
    rows = data.load_rows({"synthetic": {"n": 4, "seed": 2, "dir": "syn"}}, processor=processor, base_dir=vlmr1_dir)
    rec = next(r for r in rows if r["task"] == "rec")
    box = json.loads(rec["answer"].split("<answer>")[1].split("</answer>")[0])["bbox_2d"]
    (w, h), (iw, ih) = rec["image_size"], rec["input_size"]
    assert abs(box[2] - rec["solution"][2] * iw / w) <= 0.5 and abs(box[3] - rec["solution"][3] * ih / h) <= 0.5
    assert (vlmr1_dir / "syn" / "rows.jsonl").is_file()


# -- properties of the parsers ------------------------------------------------------------

from hypothesis import given, settings
from hypothesis import strategies as st


@given(kind=st.sampled_from(["first", "end", "random"]), n=st.integers(0, 500), percent=st.booleans(),
       total=st.integers(0, 300), seed=st.integers(0, 2**16))
def test_any_strategy_keeps_a_bounded_ordered_subset(kind, n, percent, total, seed):
    text = f"{kind}:{min(n, 100) if percent else n}{'%' if percent else ''}"
    strategy = Strategy.parse(text)
    items = list(range(total))
    picked = strategy.apply(items, random.Random(seed))
    expect = min(total, -(-min(n, 100) * total // 100) if percent else n)
    assert len(picked) == expect == strategy.count(total)
    assert picked == sorted(set(picked)) and set(picked) <= set(items)
    if kind == "first":
        assert picked == items[:expect]
    if kind == "end":
        assert picked == items[total - expect:]


@given(box=st.lists(st.integers(-5000, 5000), min_size=4, max_size=4), pad=st.sampled_from(["", " ", "\n  "]),
       wrap=st.booleans())
def test_unwrap_solution_recovers_boxes(box, pad, wrap):
    text = f"{pad}{json.dumps(box)}{pad}"
    if wrap:
        text = f"<answer>{text}</answer>"
    assert data.unwrap_solution(text) == box


@given(st.text(max_size=40))
def test_unwrap_solution_never_raises_and_keeps_non_json_text(text):
    out = data.unwrap_solution(text)
    if "<answer>" not in text and text.strip()[:1] not in ("[", "{"):
        assert out == text.strip()


@settings(max_examples=60, deadline=None)
@given(w=st.integers(1, 4000), h=st.integers(1, 4000))
def test_input_size_fast_path_equals_the_image_processor(w, h):
    if max(w, h) / min(w, h) > 200:
        return  # the processor refuses such images (tested through add_image_sizes)
    sizer = _sizer()
    assert sizer._fast(w, h) == sizer._measured(w, h)


_SIZER = []


def _sizer():
    if not _SIZER:
        from vlmr1.trainers import tiny

        _SIZER.append(data.InputSizer(tiny.build_processor("qwen2.5-vl")))
    return _SIZER[0]


def test_an_aspect_the_processor_refuses_is_a_row_error(tmp_path):
    from vlmr1.trainers import tiny

    Image.new("RGB", (1000, 4)).save(tmp_path / "thin.png")
    rows = [{"id": "thin", "image": str(tmp_path / "thin.png"), "problem": "q", "solution": 1, "source": "x.jsonl:3"}]
    with pytest.raises(DataError, match=r"x.jsonl:3: row 'thin': .*aspect ratio"):
        data.add_image_sizes(rows, tiny.build_processor("qwen2-vl"))


def test_several_jsonl_files_with_one_image_folder_each(vlmr1_dir):
    """VLM-R1's grpo_jsonl: --data_file_paths a:b --image_folders x:y, paired by position."""
    (vlmr1_dir / "other" / "train").mkdir(parents=True)
    Image.new("RGB", (77, 33)).save(vlmr1_dir / "other" / "train" / "im0.png")
    _write_jsonl(vlmr1_dir / "b.jsonl", [{"id": 0, "image": "train/im0.png", "problem": "q", "solution": "1"}])
    rows = data.load_rows({"jsonl": ["ann/count.jsonl", "b.jsonl"], "image_folders": ["coco", "other"],
                           "sampling_strategy": "first:2"}, base_dir=vlmr1_dir)
    assert [r["id"] for r in rows] == ["0", "1", "b-0"]
    assert rows[2]["image_size"] == [77, 33] and rows[0]["image_size"] == list(SIZES[0])
    with pytest.raises(DataError, match="2 data files but 1 image folders"):
        data.load_jsonl([vlmr1_dir / "b.jsonl", vlmr1_dir / "b.jsonl"], image_root=[vlmr1_dir])


def test_hf_builder_with_data_files_relative_to_the_config(vlmr1_dir, tmp_path):
    """`hf: {path: json, data_files: ...}` goes through datasets.load_dataset, offline."""
    hf = {"path": "json", "data_files": "ann/count.jsonl", "cache_dir": str(tmp_path / "hf-cache")}
    rows = data.load_rows({"hf": hf, "image_root": "coco",
                           "task": "counting", "sampling_strategy": "first:3"}, base_dir=vlmr1_dir)
    assert [r["solution"] for r in rows] == ["0", "1", "2"] and rows[0]["source"] == "dataset json[0]"
    assert rows[1]["image_size"] == list(SIZES[1])


def test_public_functions_of_the_row_sources_have_resolvable_type_hints():
    """Annotations are strings (``from __future__ import annotations``); every name in them must be imported."""
    import inspect
    import typing

    from vlmr1.trainers import sources

    for name, fn in inspect.getmembers(sources, inspect.isfunction):
        if fn.__module__ == sources.__name__:
            typing.get_type_hints(fn)  # NameError for a name used but never imported
