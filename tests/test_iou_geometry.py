"""IoU/GIoU geometry: the numpy fast path agrees with shapely; properties; repairs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from vlmr1.plugins.iou import geometry as g

# Sub-pixel resolution (1e-3): both paths agree there; at denormal scales (widths of
# 1e-196) GEOS itself rounds areas to 0, which no image coordinate ever reaches.
coord = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False).map(lambda v: round(v, 3))
box = st.tuples(coord, coord, coord, coord)
int_box = st.tuples(*[st.integers(0, 60)] * 4)


def _shapely_pair(a, b, giou=False):
    return float(g.shapely_iou_pairs([g.to_geometry("box", a)], [g.to_geometry("box", b)], giou, hull=False)[0])


@settings(max_examples=400, deadline=None)
@given(st.one_of(box, int_box), st.one_of(box, int_box), st.booleans())
def test_numpy_matches_shapely(a, b, giou):
    fast = float(g.box_iou_pairs([a], [b], giou)[0])
    assert fast == pytest.approx(_shapely_pair(a, b, giou), abs=1e-9)


@settings(max_examples=120, deadline=None)
@given(st.lists(st.tuples(box, box), min_size=1, max_size=30))
def test_numpy_matches_shapely_vectorised(pairs):
    a, b = [p[0] for p in pairs], [p[1] for p in pairs]
    fast = g.box_iou_pairs(a, b)
    slow = g.shapely_iou_pairs([g.to_geometry("box", x) for x in a], [g.to_geometry("box", x) for x in b])
    np.testing.assert_allclose(fast, slow, atol=1e-9, rtol=0)
    matrix = g.box_iou_matrix(a, b)
    np.testing.assert_allclose(np.diag(matrix), fast, atol=0, rtol=0)


@settings(max_examples=300, deadline=None)
@given(box, box)
def test_properties(a, b):
    ab, ba = g.box_iou_pairs([a], [b])[0], g.box_iou_pairs([b], [a])[0]
    assert ab == ba  # symmetric
    assert 0.0 <= ab <= 1.0
    gab, gba = g.box_iou_pairs([a], [b], giou=True)[0], g.box_iou_pairs([b], [a], giou=True)[0]
    assert gab == pytest.approx(gba, abs=1e-12)
    assert -1.0 - 1e-12 <= gab <= ab + 1e-12  # GIoU never exceeds IoU


@settings(max_examples=200, deadline=None)
@given(box)
def test_self_iou_is_one_unless_degenerate(a):
    x1, y1, x2, y2 = a
    area = abs(x2 - x1) * abs(y2 - y1)
    expected = 1.0 if area > 0 else 0.0
    assert g.box_iou_pairs([a], [a])[0] == pytest.approx(expected)


@settings(max_examples=200, deadline=None)
@given(box, st.floats(0.1, 10), st.floats(0.1, 10))
def test_iou_is_invariant_under_axis_scaling(a, sx, sy):
    """Converting both boxes to another frame (a per-axis scale) keeps their IoU."""
    b = (a[0] + 3, a[1] - 2, a[2] + 5, a[3] + 1)
    scale = lambda x: (x[0] * sx, x[1] * sy, x[2] * sx, x[3] * sy)
    assume(abs(a[2] - a[0]) > 1 and abs(a[3] - a[1]) > 1)
    assert g.box_iou_pairs([scale(a)], [scale(b)])[0] == pytest.approx(g.box_iou_pairs([a], [b])[0], abs=1e-9)


def test_known_values():
    assert g.box_iou_pairs([(0, 0, 10, 10)], [(5, 0, 15, 10)])[0] == pytest.approx(50 / 150)
    assert g.box_iou_pairs([(0, 0, 10, 10)], [(20, 0, 30, 10)], giou=True)[0] == pytest.approx(-1 / 3)
    assert g.box_iou_pairs([(10, 10, 0, 0)], [(0, 0, 10, 10)])[0] == 1.0  # corners put in order
    assert g.box_iou_pairs([(0, 0, 0, 10)], [(0, 0, 0, 10)])[0] == 0.0  # zero area: 0, never NaN
    m = g.box_iou_matrix([(0, 0, 10, 10), (0, 0, 5, 5)], [(0, 0, 10, 10), (0, 0, 5, 5), (50, 50, 60, 60)])
    np.testing.assert_allclose(m, [[1, 0.25, 0], [0.25, 1, 0]])


def test_rotated_box_by_90_degrees_of_a_square_is_itself():
    sq = g.to_geometry("rotated", (5, 5, 4, 4, 90))
    assert sq.area == pytest.approx(16)
    ref = g.to_geometry("box", (3, 3, 7, 7))
    assert float(g.shapely_iou_pairs([sq], [ref])[0]) == pytest.approx(1.0)
    tilted = g.to_geometry("rotated", (5, 5, 4, 4, 45))
    # a 4x4 square and its 45-degree turn: the square minus four corner triangles with
    # legs 4 - 2*sqrt(2), i.e. an octagon of area 32*sqrt(2) - 32
    inter = 32 * math.sqrt(2) - 32
    assert float(g.shapely_iou_pairs([tilted], [ref])[0]) == pytest.approx(inter / (32 - inter))


def test_invalid_polygon_is_repaired_not_fatal():
    bowtie = g.to_geometry("polygon", (0, 0, 10, 10, 10, 0, 0, 10))
    assert bowtie.is_valid and bowtie.area == pytest.approx(50)
    spike = g.to_geometry("polygon", (0, 0, 10, 0, 10, 0, 0, 0))  # zero area
    ref = g.to_geometry("box", (0, 0, 10, 10))
    values = g.shapely_iou_matrix([bowtie, spike, ref], [ref], giou=True)
    assert values[0, 0] == pytest.approx(0.5) and values[1, 0] == 0.0 and values[2, 0] == 1.0
    assert np.isfinite(values).all()


def test_polygon_hull_giou():
    tri = g.to_geometry("polygon", (0, 0, 4, 0, 0, 4))
    far = g.to_geometry("polygon", (10, 10, 14, 10, 10, 14))
    union = 16.0
    hull = shapely.convex_hull(shapely.union(tri, far)).area
    expected = -(hull - union) / hull
    assert float(g.shapely_iou_pairs([tri], [far], giou=True)[0]) == pytest.approx(expected)
