"""The ``iou`` reward as the registry serves it."""

from __future__ import annotations

import time

import pytest
from vlmr1.errors import ConfigError
from vlmr1.registry import get_registry
from vlmr1.types import Sample, Verdict


def _reward():
    return get_registry().reward("iou").resolved()


def _score(completions, golds, params=None, **sample_kw):
    reward = _reward()
    p = {**reward.defaults, **(params or {})}
    prepared = [reward.prepare(g, p) for g in golds]
    return reward.score_batch([Sample(c, solution=g, **sample_kw) for c, g in zip(completions, golds)], prepared, p)


def test_registered_as_a_lazy_cheap_batch_reward():
    registered = get_registry().reward("iou")
    assert registered.score_batch == "vlmr1.plugins.iou.reward:score_batch"  # text until a run uses it
    reward = _reward()
    assert reward.cheap and callable(reward.score_batch) and callable(reward.prepare) and callable(reward.check_params)
    assert reward.tasks is None  # configs choose the tasks
    assert reward.provenance.distribution == "vlmr1"
    assert reward.needs == ("solution",)
    gold = reward.prepare([0, 0, 10, 10], {})
    (v,) = reward.score_batch([Sample('<answer>{"bbox_2d": [0, 0, 10, 20]}</answer>')], [gold], dict(reward.defaults))
    assert (v.score, v.reason) == (0.5, "iou=0.50")


GOLD = [100, 100, 200, 200]
TABLE = [
    # (completion, gold, params, expected score, expected reason)
    ('<think>It is the cat.</think><answer>{"bbox_2d": [100, 100, 200, 200], "label": "cat"}</answer>', GOLD, {}, 1.0, "iou=1.00"),
    ('<answer>```json\n[{"bbox_2d": [100, 100, 200, 150], "label": "cat"}]\n```</answer>', GOLD, {}, 0.5, "iou=0.50"),
    ("<|object_ref_start|>cat<|object_ref_end|><|box_start|>(150,100),(250,200)<|box_end|>", GOLD, {}, 1 / 3, "iou=0.33"),
    ("<answer>The cat is at [100, 100, 200, 200].</answer>", GOLD, {}, 1.0, "iou=1.00"),
    ("<answer>[300, 300, 400, 400]</answer>", GOLD, {}, 0.0, "iou=0.00"),
    # enclosing box 300x100, union 2x100x100: GIoU = 0 - (30000 - 20000) / 30000
    ("<answer>[300, 100, 400, 200]</answer>", GOLD, {"metric": "giou"}, pytest.approx(-1 / 3), "giou=-0.33"),
    ("<answer>[100, 100, 200, 150]</answer>", GOLD, {"threshold": 0.5}, 1.0, "iou=0.50"),
    ("<answer>[100, 100, 200, 149]</answer>", GOLD, {"threshold": 0.5}, 0.0, "iou=0.49"),
    ("<answer>[200, 200, 100, 100]</answer>", GOLD, {}, 1.0, "iou=1.00"),  # corners in either order
    ("<answer>[200, 200, 100, 100]</answer>", GOLD, {"order": "reject"}, 0.0, "inverted_box"),
    ("<answer>I am not sure.</answer>", GOLD, {}, 0.0, "no_box"),
    ("<answer>I am not sure.</answer>", GOLD, {"metric": "giou"}, -1.0, "no_box"),
    ("<answer>[NaN, 1, 2, 3]</answer>", GOLD, {}, 0.0, "non_finite"),
    # negative samples
    ("<answer>no object</answer>", [], {}, 1.0, "no_object_ok"),
    ('<answer>{"bbox_2d": null}</answer>', None, {}, 1.0, "no_object_ok"),
    ("<answer>[]</answer>", "none", {}, 1.0, "no_object_ok"),
    ("<answer>[1, 2, 3, 4]</answer>", [], {}, 0.0, "false_alarm: gold has no object"),
    ("<answer>none</answer>", GOLD, {}, 0.0, "missed: answered no object"),
    ("<answer>I do not know</answer>", [], {}, 0.0, "no_box"),
    # several boxes, labels
    ('[{"bbox_2d": [0,0,10,10], "label": "a"}, {"bbox_2d": [20,20,30,30], "label": "b"}]',
     [{"bbox_2d": [20, 20, 30, 30], "label": "b"}, {"bbox_2d": [0, 0, 10, 10], "label": "a"}], {"labels": True}, 1.0, "iou=1.00 matched=2/2 pred=2"),
    ('[{"bbox_2d": [0,0,10,10], "label": "b"}, {"bbox_2d": [20,20,30,30], "label": "a"}]',
     [{"bbox_2d": [20, 20, 30, 30], "label": "b"}, {"bbox_2d": [0, 0, 10, 10], "label": "a"}], {"labels": True}, 0.0, "iou=0.00 matched=2/2 pred=2"),
    ('{"bbox_2d": [0,0,10,10], "label": "Dog"}', {"bbox_2d": [0, 0, 10, 10], "label": "cat"}, {"labels": True}, 0.0, "label_mismatch"),
    ('{"bbox_2d": [0,0,10,10], "label": " CAT "}', {"bbox_2d": [0, 0, 10, 10], "label": "cat"}, {"labels": True}, 1.0, "iou=1.00"),
    ("[[0,0,10,10], [50,50,60,60], [80,80,90,90]]", [[0, 0, 10, 10]], {}, pytest.approx(1 / 3), "iou=0.33 matched=1/1 pred=3"),
    # rotated boxes and polygons
    ("<answer>[150, 150, 100, 100, 90]</answer>", GOLD, {}, 1.0, "iou=1.00 matched=1/1 pred=1"),
    ('<answer>{"polygon": [[100,100],[200,100],[200,200]]}</answer>', GOLD, {}, 0.5, "iou=0.50 matched=1/1 pred=1"),
    ('<answer>{"polygon": [[100,100],[200,200],[200,100],[100,200]]}</answer>', GOLD, {}, 0.5, "iou=0.50 matched=1/1 pred=1"),
]


@pytest.mark.parametrize("completion, gold, params, score, reason", TABLE)
def test_what_scores_what(completion, gold, params, score, reason):
    (v,) = _score([completion], [gold], params)
    assert v.score == score and v.reason == reason, v


def test_bad_solution_is_none_with_reason():
    (v,) = _score(["[1,2,3,4]"], [[1, 2, 3]])
    assert v.score is None and v.reason.startswith("bad_solution")


def test_a_bad_row_does_not_fail_the_batch():
    bowtie = '{"polygon": [[0,0],[10,10],[10,0],[0,10]]}'
    completions = ["[0,0,10,10]", bowtie, "[NaN,0,1,1]", "x" * 2_000_000, "[0,0,10,10]"]
    got = _score(completions, [[0, 0, 10, 10]] * 5)
    assert [v.score for v in got] == [1.0, 0.5, 0.0, 0.0, 1.0]
    assert got[3].reason == "too_long"


def test_missing_image_size_for_a_normalised_frame_is_none():
    (v,) = _score(["[100, 100, 200, 200]"], [GOLD], {"frame": "norm1000"})
    assert v.score is None and v.reason.startswith("no_image_size")


@pytest.mark.parametrize(
    "params, match",
    [
        ({"frame": "pixels"}, "frame='pixels'"),
        ({"metric": "dice"}, "metric='dice'"),
        ({"match": "auction"}, "match='auction'"),
        ({"threshold": 2}, "threshold=2"),
        ({"threshold": "0.5"}, "threshold='0.5'"),
        ({"compat": "vlmr1"}, "compat='vlmr1'"),
        ({"labels": "yes"}, "labels='yes'"),
        ({"max_boxes": 0}, "max_boxes=0"),
        ({"max_chars": "big"}, "max_chars='big'"),
    ],
)
def test_bad_params_are_config_errors(params, match):
    with pytest.raises(ConfigError, match=match):
        _score(["[1,2,3,4]"], [[1, 2, 3, 4]], params)


def test_batch_is_scored_with_one_parse_per_distinct_completion(monkeypatch):
    from vlmr1.plugins.iou import reward as mod

    calls = []
    real = mod.parse_answer
    monkeypatch.setattr(mod, "parse_answer", lambda c, lim: calls.append(c) or real(c, lim))
    group = ["[0,0,10,10]"] * 6 + ["[0,0,10,20]"] * 2
    got = _score(group, [[0, 0, 10, 10]] * 8)
    assert [v.score for v in got] == [1.0] * 6 + [0.5] * 2
    assert len(calls) == 2


def test_large_batch_runs_inline_quickly():
    n = 20_000
    completions = [f'<answer>{{"bbox_2d": [{i % 50}, 0, {i % 50 + 50}, 50]}}</answer>' for i in range(n)]
    start = time.perf_counter()
    got = _score(completions, [[0, 0, 50, 50]] * n)
    secs = time.perf_counter() - start
    assert got[0].score == 1.0 and got[25].score == pytest.approx(25 / 75)
    assert all(isinstance(v, Verdict) for v in got) and secs < 10, secs


def test_raw_solutions_are_accepted_without_prepare():
    from vlmr1.plugins.iou.reward import score_batch

    (v,) = score_batch([Sample("[0,0,10,10]")], [[0, 0, 10, 10]], {})
    assert v.score == 1.0


def test_scores_through_the_engine():
    from vlmr1.config import config_from_dict
    from vlmr1.engine import Engine
    from vlmr1.rows import sample_from_row

    rows = [
        # a Qwen2.5-VL answer in model-input pixels; the row says both sizes
        {"completion": '<answer>{"bbox_2d": [80, 56, 320, 168]}</answer>', "solution": [100, 75, 400, 225],
         "image_size": [1000, 300], "input_size": [800, 224]},
        {"completion": "<answer>none</answer>", "solution": []},
        {"completion": "<answer>junk</answer>", "solution": "<answer>[0, 0, 10, 10]</answer>"},
        {"completion": "<answer>[0, 0, 10, 5]</answer>", "solution": "<answer>[0, 0, 10, 10]</answer>"},
    ]
    samples = [sample_from_row(r, i) for i, r in enumerate(rows)]
    with Engine(config_from_dict({"rewards": [{"name": "iou"}]})) as eng:
        result = eng.score(samples)
    assert result.columns["iou"] == [pytest.approx(1.0), 1.0, 0.0, 0.5]
    assert result.reasons["iou"] == ["iou=1.00", "no_object_ok", "no_box", "iou=0.50"]
    with Engine(config_from_dict({"rewards": [{"name": "iou", "params": {"compat": "vlm-r1"}}]})) as eng:
        assert eng.score(samples[2:]).columns["iou"] == [0.0, 0.5]


def test_a_bad_param_fails_when_the_engine_is_built():
    """A typo in params is a config error at once, naming the reward and the param,
    rather than a None on every row of a long run."""
    import pytest

    from vlmr1.config import config_from_dict
    from vlmr1.engine import Engine
    from vlmr1.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        Engine(config_from_dict({"rewards": [{"name": "iou", "params": {"frame": "pixels"}}]}))
    assert "reward 'iou'" in str(info.value) and "frame='pixels'" in str(info.value)
    assert "auto, original, input, norm1000, norm1" in str(info.value)


# -- properties of the whole reward ------------------------------------------------------
from hypothesis import given, settings
from hypothesis import strategies as st

_num = st.one_of(st.integers(-2000, 2000), st.floats(-2000, 2000, allow_nan=False), st.just(float("nan")), st.just(1e300))
_box = st.lists(_num, min_size=3, max_size=6)
_value = st.recursive(
    st.one_of(_box, st.none(), st.text(max_size=8)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.fixed_dictionaries({"bbox_2d": inner}, optional={"label": st.sampled_from(["a", "b", "A "])}),
        st.fixed_dictionaries({"polygon": st.lists(st.lists(_num, min_size=2, max_size=2), max_size=6)}),
    ),
    max_leaves=8,
)
_size = st.one_of(st.none(), st.tuples(st.integers(1, 3000), st.integers(1, 3000)))
_params = st.fixed_dictionaries(
    {},
    optional={
        "frame": st.sampled_from(["auto", "original", "input", "norm1000", "norm1"]),
        "metric": st.sampled_from(["iou", "giou"]),
        "threshold": st.sampled_from([0.5, 0.0, 1.0]),
        "match": st.sampled_from(["hungarian", "greedy"]),
        "labels": st.booleans(),
        "patch_size": st.sampled_from([14, 16]),
        "compat": st.sampled_from(["vlm-r1", "vlm-r1-eval"]),
    },
)


@settings(max_examples=250, deadline=None)
@given(st.lists(st.tuples(_value, _value, _size, _size, st.booleans()), min_size=1, max_size=6), _params)
def test_reward_never_raises_and_stays_in_range(rows, params):
    import json

    samples, golds = [], []
    for pred, gold, image_size, input_size, tagged in rows:
        text = json.dumps(pred)  # NaN and 1e300 are written as JSON extensions
        samples.append(Sample(f"<answer>{text}</answer>" if tagged else text, image_size=image_size, input_size=input_size))
        golds.append(gold)
    reward = _reward()
    p = {**reward.defaults, **params}
    got = reward.score_batch(samples, [reward.prepare(g, p) for g in golds], p)
    assert len(got) == len(samples)
    for v in got:
        assert isinstance(v, Verdict) and isinstance(v.reason, str)
        assert not v.reason.startswith("error"), v
        if v.score is not None:
            assert -1.0 <= v.score <= 1.0
            if p.get("metric") != "giou" or p.get("threshold") is not None:
                assert v.score >= 0.0
