"""Many rows' user features as typed numpy columns instead of a dict per row: what training streams into.

A training read of millions of impressions cannot keep a dict of fifty features per row (kilobytes each).
`ColumnBuilder` takes the rows a chunk at a time and keeps, per feature, a kind code (int8) and a value
(float64: the number, or the code of the text in one vocabulary of the strings seen) per row; the chunk's
dicts can then be dropped. `FeatureColumns` is the result, and reads like the list of dicts it replaces
(`len`, `rows[i]` a dict, `rows[a:b]` a view), so `ranking.features` keeps the one set of rules:

- `counts()` gives what `features.build_spec` counts from dicts (the same kinds, categories and numbers, in
  the same first-seen order), and `features.spec_from_counts` turns either into the spec;
- `user_codes(spec)` is `features.user_codes(spec, rows)` column by column: the same type rules (a text is a
  category, a boolean a category read as "true"/"false", an int or float a number; anything else missing).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, overload

import numpy as np

ABSENT, NUMBER, TEXT, FLAG, NONFINITE = 0, 1, 2, 3, 4
# type() exactly, as features.user_codes reads values: True is no number, 1 no boolean; any other type is missing.
_KIND_OF_TYPE: defaultdict[type, int] = defaultdict(int, {int: NUMBER, float: NUMBER, str: TEXT, bool: FLAG})


class ColumnBuilder:
    """Collects feature dicts chunk by chunk; `finish(order)` gives the selected rows as FeatureColumns."""

    def __init__(self) -> None:
        self.names: dict[str, int] = {}
        self.vocabulary: dict[str, int] = {"false": 0, "true": 1}  # a boolean is stored as its text's code
        self._chunks: list[list[tuple[int, np.ndarray, np.ndarray]]] = []  # per column: (first row, kinds, values)
        self.rows = 0

    def add(self, rows: Sequence[Mapping[str, Any]]) -> None:
        n = len(rows)
        if not n:
            return
        present = set().union(*rows)
        vocabulary = self.vocabulary
        for name in sorted(present, key=str):
            column = self.names.setdefault(name, len(self.names))
            if column == len(self._chunks):
                self._chunks.append([])
            values: list[Any] = [row.get(name) for row in rows]
            kinds = np.fromiter(map(_KIND_OF_TYPE.__getitem__, map(type, values)), dtype=np.int8, count=n)
            out = np.full(n, np.nan)
            if (kinds == NUMBER).all():  # the common cases first: a column of one type
                out[:] = values
                kinds[~np.isfinite(out)] = NONFINITE
            elif (kinds == TEXT).all():
                _extend(vocabulary, values)
                out[:] = list(map(vocabulary.__getitem__, values))
            else:
                numbers = np.flatnonzero(kinds == NUMBER).tolist()
                if numbers:
                    out[numbers] = [float(values[i]) for i in numbers]
                    kinds[[i for i in numbers if not math.isfinite(out[i])]] = NONFINITE
                texts = [values[i] for i in np.flatnonzero(kinds == TEXT).tolist()]
                if texts:
                    _extend(vocabulary, texts)
                    out[kinds == TEXT] = list(map(vocabulary.__getitem__, texts))
                flags = np.flatnonzero(kinds == FLAG).tolist()
                if flags:  # a boolean's value is the code of "true" (1) or "false" (0)
                    out[flags] = [1.0 if values[i] else 0.0 for i in flags]
            self._chunks[column].append((self.rows, kinds, out))
        self.rows += n

    def finish(self, order: np.ndarray | None = None) -> FeatureColumns:
        """The rows `order` picks (indices in the order added; None: all), one column at a time so memory
        peaks at the result plus one column."""
        picked = np.arange(self.rows) if order is None else np.asarray(order, dtype=np.int64)
        kinds = np.zeros((len(picked), len(self.names)), dtype=np.int8, order="F")
        values = np.full((len(picked), len(self.names)), np.nan, order="F")
        for column, chunks in enumerate(self._chunks):
            full_kinds = np.zeros(self.rows, dtype=np.int8)
            full_values = np.full(self.rows, np.nan)
            while chunks:
                start, k, v = chunks.pop()
                full_kinds[start:start + len(k)], full_values[start:start + len(v)] = k, v
            kinds[:, column], values[:, column] = full_kinds[picked], full_values[picked]
        self._chunks = []
        strings = [""] * len(self.vocabulary)
        for text, code in self.vocabulary.items():
            strings[code] = text
        return FeatureColumns(names=list(self.names), kinds=kinds, values=values, strings=strings)


def _extend(vocabulary: dict[str, int], texts: list[str]) -> None:
    """Give each text not yet in `vocabulary` the next code."""
    for text in dict.fromkeys(texts).keys() - vocabulary.keys():
        vocabulary[text] = len(vocabulary)


class FeatureColumns(Sequence[dict[str, Any]]):
    """Rows × features as kind codes and values (see the module docstring); reads as a sequence of dicts."""

    def __init__(self, *, names: list[str], kinds: np.ndarray, values: np.ndarray, strings: list[str]) -> None:
        self.names, self.kinds, self.values, self.strings = names, kinds, values, strings
        self.column_of = {name: i for i, name in enumerate(names)}
        self._codes: dict[str, int] | None = None

    def __len__(self) -> int:
        return int(self.kinds.shape[0])

    @overload
    def __getitem__(self, i: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, i: slice) -> FeatureColumns: ...

    def __getitem__(self, i: int | slice) -> dict[str, Any] | FeatureColumns:
        if isinstance(i, slice):  # a view: numpy slices share the arrays
            return FeatureColumns(names=self.names, kinds=self.kinds[i], values=self.values[i], strings=self.strings)
        row: dict[str, Any] = {}
        for name, kind, value in zip(self.names, self.kinds[i].tolist(), self.values[i].tolist(), strict=True):
            if kind in (NUMBER, NONFINITE):
                row[name] = value
            elif kind == TEXT:
                row[name] = self.strings[int(value)]
            elif kind == FLAG:
                row[name] = value == 1.0
        return row

    def counts(self) -> tuple[dict[str, Counter], dict[str, Counter], dict[str, np.ndarray]]:
        """(kinds, categories, numbers) per feature, as `features.build_spec` counts them from the dicts:
        insertion orders are first-seen orders, so ties in `most_common` break the same way."""
        kinds: dict[str, Counter] = {}
        values: dict[str, Counter] = {}
        numbers: dict[str, np.ndarray] = {}
        for column, name in enumerate(self.names):
            k, v = self.kinds[:, column], self.values[:, column]
            is_cat, is_num = (k == TEXT) | (k == FLAG), k == NUMBER
            first = {kind: int(np.argmax(mask)) for kind, mask in (("cat", is_cat), ("num", is_num)) if mask.any()}
            if not first:
                continue
            counter: Counter = Counter()
            for kind in sorted(first, key=first.__getitem__):
                counter[kind] = int((is_cat if kind == "cat" else is_num).sum())
            kinds[name] = counter
            if "cat" in first:
                codes = self._category_codes(k[is_cat], v[is_cat])
                unique, where, count = np.unique(codes, return_index=True, return_counts=True)
                seen: Counter = Counter()
                for j in np.argsort(where, kind="stable"):
                    seen[self.strings[int(unique[j])]] = int(count[j])
                values[name] = seen
            if "num" in first:
                numbers[name] = v[is_num]
        return kinds, values, numbers

    def _category_codes(self, kinds: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Vocabulary codes of category cells: a text's own, a boolean's "true" (1) or "false" (0)."""
        return values.astype(np.int64)  # a FLAG value 1.0/0.0 is the code of "true"/"false" (ColumnBuilder)

    def user_codes(self, spec: Mapping[str, Any]) -> np.ndarray:
        """`features.user_codes(spec, rows)`: category codes or numbers, NaN where missing or unseen."""
        if self._codes is None:
            self._codes = {text: code for code, text in enumerate(self.strings)}
        out = np.full((len(self), len(spec["user"])), np.nan)
        for c, f in enumerate(spec["user"]):
            column = self.column_of.get(f["name"])
            if column is None:
                continue
            k, v = self.kinds[:, column], self.values[:, column]
            if f["kind"] == "cat":
                lookup = np.full(len(self.strings), np.nan)
                for i, text in enumerate(f["values"]):
                    code = self._codes.get(text)
                    if code is not None:
                        lookup[code] = float(i)
                rows = np.flatnonzero((k == TEXT) | (k == FLAG))
                out[rows, c] = lookup[v[rows].astype(np.int64)]
            else:
                rows = np.flatnonzero((k == NUMBER) | (k == NONFINITE))
                out[rows, c] = v[rows]
        return out
