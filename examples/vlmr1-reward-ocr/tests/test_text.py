"""The text layer: normalisation and the bit-parallel edit distance."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vlmr1_reward_ocr.text import levenshtein, normalise, similarity, strip_punctuation, units


def table_levenshtein(a, b) -> int:
    """The textbook dynamic-programming table, as the reference."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [
        ("", "", 0),
        ("", "abc", 3),
        ("abc", "", 3),
        ("kitten", "sitting", 3),
        ("flaw", "lawn", 2),
        ("intention", "execution", 5),
        ("abc", "abc", 0),
        ("ab", "ba", 2),
    ],
)
def test_known_distances(a, b, distance):
    assert levenshtein(a, b) == distance
    assert levenshtein(b, a) == distance


# Small alphabets make repeats, shared prefixes and suffixes likely: the cases the
# prefix trimming and the bit-vector carries must get right.
_small = st.text(alphabet="abcd", max_size=14)


@settings(max_examples=400, deadline=None)
@given(_small, _small)
def test_matches_the_table_on_short_strings(a, b):
    assert levenshtein(a, b) == table_levenshtein(a, b)


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="ab c", min_size=60, max_size=150), st.text(alphabet="ab c", min_size=60, max_size=150))
def test_matches_the_table_past_one_machine_word(a, b):
    # more than 64 positions: the bit vectors span several machine words
    assert levenshtein(a, b) == table_levenshtein(a, b)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["the", "cat", "sat", "on", "mat"]), max_size=10),
       st.lists(st.sampled_from(["the", "cat", "sat", "on", "mat"]), max_size=10))
def test_works_on_word_sequences(a, b):
    assert levenshtein(a, b) == table_levenshtein(a, b)


def test_similarity_is_one_minus_distance_over_the_longer_length():
    assert similarity("kitten", "sitting") == (1 - 3 / 7, 3)
    assert similarity("", "") == (1.0, 0)
    assert similarity("abc", "") == (0.0, 3)


def test_normalise_nfkc_casefold_and_white_space():
    # full-width letters, a ligature, a non-breaking space, tabs and line breaks
    assert normalise("ＨＥＬＬＯ\u00a0\ufb01le\t\n  World ") == "hello file world"
    assert normalise("Straße") == "strasse"  # casefold, not lower
    assert normalise("Hello", casefold=False) == "Hello"


def test_punctuation_is_kept_unless_asked():
    assert normalise("Hello, world!") == "hello, world!"
    assert normalise("Hello, world!", punctuation=False) == "hello world"
    assert normalise("« Bonjour » — dit-il.", punctuation=False) == "bonjour ditil"  # guillemets and dashes are P* too
    assert strip_punctuation("a.b,c") == "abc"


def test_units():
    assert list(units("ab c", "char")) == ["a", "b", " ", "c"]
    assert units("ab c", "word") == ["ab", "c"]
    with pytest.raises(ValueError, match="unit must be"):
        units("x", "line")
