"""Hostile values made from good ones (Hypothesis): pieces that break parsers spliced in at
drawn places."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st


def spliced(base: str, pieces: Sequence[str], reach: int, max_pieces: int = 4) -> st.SearchStrategy[str]:
    """``base`` with one to ``max_pieces`` of ``pieces`` inserted, each at a drawn position
    (taken modulo the length so far, so every place within ``reach`` can be hit)."""
    def insert(draws: list[tuple[int, str]]) -> str:
        out = base
        for position, piece in draws:
            at = position % (len(out) + 1)
            out = out[:at] + piece + out[at:]
        return out

    return st.lists(st.tuples(st.integers(0, reach), st.sampled_from(list(pieces))),
                    min_size=1, max_size=max_pieces).map(insert)
