"""Units after a quantity: ``3cm``, ``9\\pi cm^{2}``, ``10.2米``, ``140°``, ``5 km/h``, ``\\$16.50``.

A unit is part of an answer, not noise around it: ``3`` is the right answer to ``3 cm``
(graders accept the bare number), but ``3 m`` is not, and neither is ``3`` for
``3\\sqrt{3} cm``. math-verify cuts a trailing word it takes for a unit and compares what
is left, silently (``2t`` is ``2`` to it, ``x - a y`` is ``x -``); here the unit is split
off explicitly, named, and compared: the same unit, or no unit on one side, compares the
quantities; two units of one dimension compare after conversion (``1 m`` is ``100 cm``);
two units that cannot be converted are different answers.

Only spellings in the table below are units, and the quantity before them must end like
one (a digit, a closing bracket, a command such as ``\\pi``). Single letters are algebra
(``2t``, ``5g``, ``3s`` stay products), except ``m`` after a constant (``3m``, ``2 m^2``),
which is read both ways (3 metres, and the product ``3m``): either reading may match.
Other trailing words (``12 apples``, ``5 square units``, ``3个``) are *labels*: kept in
the verdict's details, not compared.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

__all__ = ["Unit", "Split", "split_unit", "unit_named", "UNIT_FIRST_WORDS"]


@dataclass(frozen=True)
class Unit:
    """A known unit: canonical name, dimension and size in the dimension's base unit."""

    name: str
    dimension: str
    factor: Fraction


@dataclass(frozen=True)
class Split:
    """A text cut into its quantity and what follows it: a unit, a label, or neither."""

    math: str
    unit: Unit | None = None
    label: str | None = None
    ambiguous: bool = False  # "3m": 3 metres, or the product 3m; both readings stand


_LENGTH = {  # canonical: (metres, symbols, words, CJK)
    "mm": (Fraction(1, 1000), ("mm",), ("millimeter", "millimetre"), ("毫米",)),
    "cm": (Fraction(1, 100), ("cm",), ("centimeter", "centimetre"), ("厘米",)),
    "dm": (Fraction(1, 10), ("dm",), ("decimeter", "decimetre"), ("分米",)),
    "m": (Fraction(1), ("m",), ("meter", "metre"), ("米",)),
    "km": (Fraction(1000), ("km",), ("kilometer", "kilometre"), ("千米", "公里")),
    "in": (Fraction(254, 10000), ("inch", "inches"), ("inch",), ()),
    "ft": (Fraction(3048, 10000), ("ft", "feet", "foot"), ("foot",), ()),
    "yd": (Fraction(9144, 10000), ("yd", "yard", "yards"), ("yard",), ()),
    "mi": (Fraction(1609344, 1000), ("mile", "miles"), ("mile",), ()),
}
_OTHER = {  # canonical: (dimension, factor, spellings)
    "ha": ("area", Fraction(10000), ("ha", "hectare", "hectares", "公顷")),
    "l": ("volume", Fraction(1, 1000), ("L", "l", "liter", "liters", "litre", "litres", "升")),
    "ml": ("volume", Fraction(1, 1000000), ("mL", "ml", "milliliter", "milliliters", "millilitre", "millilitres", "毫升")),
    "mg": ("mass", Fraction(1, 1000), ("mg", "milligram", "milligrams", "毫克")),
    "g": ("mass", Fraction(1), ("gram", "grams", "克")),
    "kg": ("mass", Fraction(1000), ("kg", "kilogram", "kilograms", "千克", "公斤")),
    "t": ("mass", Fraction(1000000), ("ton", "tons", "tonne", "tonnes", "吨")),
    "s": ("time", Fraction(1), ("sec", "secs", "second", "seconds", "秒")),
    "min": ("time", Fraction(60), ("min", "mins", "minute", "minutes", "分钟")),
    "h": ("time", Fraction(3600), ("hr", "hrs", "hour", "hours", "小时")),
    "day": ("time", Fraction(86400), ("day", "days", "天")),
    "km/h": ("speed", Fraction(5, 18), ("km/h", "km/hr", "kmh", "kph", "kmph", "千米/时", "千米/小时", "公里/时", "公里/小时", "千米每小时")),
    "m/s": ("speed", Fraction(1), ("m/s", "米/秒", "米每秒")),
    "mph": ("speed", Fraction(1609344, 3600000), ("mph",)),
    "deg": ("angle", Fraction(1), ("°", "degree", "degrees", "deg", "度", "^\\circ", "^{\\circ}")),
    "degC": ("temperature", Fraction(1), ("°C", "℃", "摄氏度")),
    "degF": ("temperature-f", Fraction(1), ("°F", "℉")),
    "yuan": ("money-cny", Fraction(1), ("yuan", "元", "RMB", "rmb")),
    "usd": ("money-usd", Fraction(1), ("$", "\\$", "dollar", "dollars", "USD")),
    "eur": ("money-eur", Fraction(1), ("€", "euro", "euros")),
}


def _table() -> dict[str, Unit]:
    out: dict[str, Unit] = {}
    for name, (metres, symbols, words, cjk) in _LENGTH.items():
        for power, dim, word_pre, cjk_pre in ((1, "length", "", ""), (2, "area", "square ", "平方"), (3, "volume", "cubic ", "立方")):
            canon = name if power == 1 else f"{name}^{power}"
            unit = Unit(canon, dim, metres ** power)
            sup = "" if power == 1 else f"^{power}"
            for sym in symbols:
                out[sym + sup] = unit
                if power > 1:
                    out[f"sq {sym}" if power == 2 else f"cu {sym}"] = unit
            for word in words:
                plural = "feet" if word == "foot" else word + ("es" if word.endswith("ch") else "s")
                for w in (word, plural):
                    out[word_pre + w] = unit
                    if power > 1:
                        out[w + sup] = unit
            for c in cjk:
                out[cjk_pre + c] = unit
    for name, (dim, factor, spellings) in _OTHER.items():
        for sp in spellings:
            out[sp] = Unit(name, dim, factor)
    out["cc"] = out["cm^3"]
    return out


_UNITS = _table()
# the first word of every unit spelled with letters ("square", "km/h" -> "km"): a word that
# starts none of them after a number is a label, without trying the unit patterns
UNIT_FIRST_WORDS = frozenset(k.split()[0].split("/")[0].split("^")[0].lower() for k in _UNITS if k[:1].isascii() and k[:1].isalpha())
_SINGLE_LETTER_OK = {"m", "m^2", "m^3"}  # "3m" is 3 metres; "2t", "5g", "3s" stay algebra


def unit_named(spelling: str) -> Unit | None:
    """The unit a spelling names (``cm^{2}``, ``square meters``, ``平方厘米``), or None."""
    key = _squeeze(spelling)
    got = _UNITS.get(key)
    if got is None and len(key) > 2:
        got = _UNITS.get(key.lower())
    return got


def _squeeze(spelling: str) -> str:
    s = " ".join(spelling.split())
    s = s.replace("^{", "^").replace("}", "") if "^{" in s else s
    return s.replace(" ^", "^").replace("^ ", "^").replace(" / ", "/").replace(" /", "/").replace("/ ", "/")


_CJK = r"\u3400-\u4dbf\u4e00-\u9fff"
_CJK_TAIL = re.compile(rf"[{_CJK}]+(?:/[{_CJK}]+)?$")
_TEXT_TAIL = re.compile(r"\\(?:text|textrm|textbf|textit|textnormal|mathrm|mbox|operatorname)\s*\{([^{}\\]*)\}(\s*\^\s*(?:\{\s*[23]\s*\}|[23]))?$")
_LATIN_TAIL = re.compile(
    r"(?P<gap>\s*)(?<![\\A-Za-z])(?P<unit>[A-Za-z]+(?:\s+[A-Za-z]+){0,2}(?:\s*/\s*[A-Za-z]+)?(?:\s*\^\s*(?:\{\s*[23]\s*\}|[23]))?)$")
_DEGREE_TAIL = re.compile(r"(?:°\s*[CF]?|℃|℉|\^\s*\\circ|\^\s*\{\s*\\circ\s*\})$")
_CURRENCY_HEAD = re.compile(r"^(\\\$|\$|€)\s*(?=[-+]?[\d.])")
_CURRENCY_TAIL = re.compile(r"(?<=[\d.])\s*(\\\$|\$|€)$")
_QUANTITY_END = re.compile(r"(?:[\d)}\]]|\\[A-Za-z]+)\s*$")
_LETTER_OUTSIDE_COMMANDS = re.compile(r"(?<![\\A-Za-z])[A-Za-z]")


def _is_quantity(math: str) -> bool:
    return bool(math.strip()) and _QUANTITY_END.search(math) is not None


def _constant(math: str) -> bool:
    """No variable letters: every letter belongs to a command (``\\pi``, ``\\sqrt``)."""
    return _LETTER_OUTSIDE_COMMANDS.search(math) is None


_TAIL_REACH = 64  # a unit or label is looked for in the last characters only


def _unit_tail(s: str) -> tuple[str, Unit | None, str | None] | None:
    if s[-1] in "0123456789)]" and s[-2:-1] != "^":
        return None  # ends on a number or a bracket: no unit (the common case, decided at once)
    off = max(0, len(s) - _TAIL_REACH)
    got = _unit_tail_in(s[off:], s[:off])
    return None if got is None else (s[:off] + got[0], got[1], got[2])


def _unit_tail_in(s: str, before: str) -> tuple[str, Unit | None, str | None] | None:
    """``_unit_tail`` on the last characters ``s`` of a text (``before`` is the rest)."""
    m = _DEGREE_TAIL.search(s)
    if m and _is_quantity(before[-16:] + s[:m.start()]):
        return s[:m.start()].rstrip(), unit_named(m.group().replace(" ", "")) or _UNITS["deg"], None
    m = _CJK_TAIL.search(s)
    if m and _is_quantity(before[-16:] + s[:m.start()]):
        word = m.group()
        return s[:m.start()].rstrip(), unit_named(word), None if unit_named(word) else word
    m = _TEXT_TAIL.search(s)
    if m and _is_quantity(before[-16:] + s[:m.start()]):
        word = (m.group(1) + (m.group(2) or "")).strip()
        unit = unit_named(word)
        return s[:m.start()].rstrip(), unit, None if unit else (word or None)
    m = _LATIN_TAIL.search(s)
    if m and _is_quantity(before[-16:] + s[:m.start()]):
        head, word, spaced = s[:m.start()], m.group("unit"), bool(m.group("gap"))
        unit, squeezed = unit_named(word), _squeeze(word)
        if unit is not None and len(squeezed.split("^")[0]) == 1 and not (squeezed in _SINGLE_LETTER_OK and _constant(before + head)):
            unit = None  # "2t", "5l", "x+3m": algebra
        if unit is not None:
            return head.rstrip(), unit, "" if len(squeezed.split("^")[0]) == 1 else None
        if unit is None and spaced and len(word.split()[0]) >= 3 and "/" not in word and "^" not in word and _constant(before + head):
            return head.rstrip(), None, word  # "12 apples", "5 square units"
    return None


def split_unit(text: str) -> Split:
    """``text`` (already normalised) cut into a quantity and its unit or label."""
    s = text.rstrip().rstrip(".").rstrip()
    unit: Unit | None = None
    m = _CURRENCY_HEAD.match(s)
    if m:  # "\$16386.17", "$5": a currency written before the amount
        unit, s = _UNITS[m.group(1)], s[m.end():]
    m = _CURRENCY_TAIL.search(s) if unit is None else None
    if m:  # "1,000.99€", "5$"
        unit, s = _UNITS[m.group(1)], s[:m.start()]
    got = _unit_tail(s) if s else None
    if got is None:
        return Split(s, unit)
    math, tail_unit, label = got
    if unit is not None and tail_unit is not None and tail_unit != unit:
        return Split(text.strip())  # "$5 cm": not one quantity; read as written
    return Split(math, tail_unit or unit, label or None, ambiguous=label == "")
