"""Answer candidates: the sentences of the retrieved passages, scored against the question.

A unit is one sentence, or a sentence with the ones right after it that refer back
to it ("This includes…"). A sentence that announces a list ("…include:") is a unit
too: it is only ever given with the list's items (see shaping.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .lexical import terms
from .loaded import LoadedIndex
from .query import Query
from .retrieval import Hit


@dataclass(frozen=True)
class Unit:
    """Sentence rows that go into an answer together, and how well they fit the question."""

    rows: tuple[int, ...]
    similarity: float  # cosine to the question, the evidence measure
    distinct: float  # cosine in the centered space: what sets it apart from the corpus
    overlap: float  # IDF-weighted share of the question's words it uses
    vector: np.ndarray
    lead: bool  # announces a list ("Key trends include:")

    @property
    def score(self) -> float:
        """Ranks units for the answer: specific matches beat generic on-topic ones."""
        return self.distinct + 0.3 * self.overlap


def _groups(hits: list[Hit], index: LoadedIndex) -> list[list[int]]:
    """The sentence rows of the hits, grouped into units, each row once, best hit first."""
    table = index.sentences
    groups: list[list[int]] = []
    seen: set[int] = set()
    for hit in hits:
        lo, hi = hit.chunk.sentence_rows
        row = lo
        while row < hi:
            group = [row]
            while (
                group[-1] + 1 < hi
                and len(group) < 3
                and table.refers_back[group[-1] + 1]
                and not table.framing[group[-1] + 1]  # "This guide…" stands alone
                # "These programs…" after "- Statistics - Related fields" speaks of the
                # whole list, not of its last item.
                and not table.leaves_list(group[-1])
            ):
                group.append(group[-1] + 1)
            row = group[-1] + 1
            if seen.intersection(group):
                continue  # shared by overlapping chunks: the better-ranked one has it
            seen.update(group)
            groups.append(group)
    return groups


def candidate_units(hits: list[Hit], index: LoadedIndex, query: Query) -> list[Unit]:
    """Every unit of the hits' sentences, best first."""
    table, lexical = index.sentences, index.lexical
    wanted = set(terms(query.question)) | set(terms(query.expanded))
    weight = {t: lexical.idf(t) for t in wanted}
    total = sum(weight.values()) or 1.0

    def _weight(words: frozenset[str]) -> float:
        return sum(weight[t] for t in words)

    groups = _groups(hits, index)
    if not groups:
        return []
    rows = np.asarray([r for group in groups for r in group], dtype=np.int64)
    sims = table.vectors[rows] @ query.vector
    distinct = table.centered[rows] @ table.center(query.vector)
    out: list[Unit] = []
    cursor = 0
    for group in groups:
        g_sims = sims[cursor : cursor + len(group)]
        g_distinct = distinct[cursor : cursor + len(group)]
        cursor += len(group)
        lead = table.is_lead(group[-1])
        if table.texts[group[-1]].endswith(":") and not lead:
            continue  # announces a list that isn't there: says nothing by itself
        words = frozenset().union(*(table.terms[r] for r in group))
        if len(words) < 3:
            continue  # fragments answer nothing
        # Heading-aware: "Key trends include:" under "The Future of ML" is about the future;
        # a heading's words count half, as they are shared by the whole section.
        heading = table.heading_terms(group[0]) - words
        best = int(np.argmax(g_sims))
        out.append(
            Unit(
                tuple(group),
                float(g_sims[best]),
                float(g_distinct.max()),
                (_weight(words & wanted) + 0.5 * _weight(heading & wanted)) / total,
                table.vectors[group[best]],
                lead,
            )
        )
    out.sort(key=lambda u: -u.score)
    return out
