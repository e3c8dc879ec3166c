"""The sentence table: each indexed sentence's answer-ready text, words and vectors.

Built once per loaded index, so that composing an answer does no text
processing and one matrix product per question.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

import numpy as np

from .cleaning import LIST_MARKER
from .lexical import terms
from .store import IndexData, StoredDocument

# A sentence that leans on the one before: "This…", "They…", a reason given on its own
# ("Mainly because you will be asked about it in interviews."), or one that says how it
# follows from it ("In that respect, they're similar…", "For this reason…").
_ANAPHOR = re.compile(
    r"^(?:this|these|those|they|their|such|it|its|that|he|she|"
    r"(?:mainly|partly|largely|simply|probably|mostly) because|"
    r"(?:in|for|to|with) (?:this|that) (?:respect|regard|way|case|reason|end|sense|purpose))\b",
    re.I,
)
# A sentence that only brings in an example, which the next one gives: "For instance,
# consider Netflix. To keep subscribers engaged, …".
_BRINGS_IN = re.compile(
    r"^(?:for (?:instance|example),?\s*)?(?:consider|take|look at)\s+[^.,;]{1,40}[.:]$", re.I
)
# A sentence that ends on what the one before it said: "Demand for mobile apps will
# drive this growth." Read alone it names no growth; in its paragraph it says whose.
_ENDS_ON_ANAPHOR = re.compile(r"\b(?:this|these)\s+(?:[a-z-]+\s+)?[a-z-]+[.!]?$", re.I)
# The article speaking of itself ("This comprehensive guide provides a roadmap…",
# "Let's explore the career opportunities…"): it says what the text is about, never
# what the reader asked.
_FRAMING = re.compile(
    r"\b(?:this|the following|our) (?:\w+ )?(?:guide|article|blog(?: post)?|post|tutorial)\b(?!-)"
    r"|\bin this (?:section|chapter)\b"
    r"|\bwe(?:[’']ll| will| are going to) (?:explore|discuss|cover|look at|dive into|delve into|"
    r"walk (?:you )?through)\b"
    r"|\blet[’']s (?:explore|delve|dive)\b|^(?:read also|see also)\b",
    re.I,
)
# A sentence that qualifies the one before it: "X. However, Y." read as "X." misleads.
_CONTRAST = re.compile(
    r"^(?:however,|but\b|nevertheless|nonetheless|even so|that said|that being said|yet,)",
    re.I,
)


@dataclass(frozen=True)
class ListSpan:
    """A run of two or more list items, with what announces it."""

    lead: int | None  # the row of "…include:" just before the items, if there is one
    heading: str | None  # the heading the items stand under
    items: tuple[tuple[int, ...], ...]  # each item's sentence rows


class SentenceTable:
    """Rows match the index's sentence vectors."""

    def __init__(self, data: IndexData):
        n = len(data.sentence_vectors)
        self.texts: list[str] = [""] * n
        self.terms: list[frozenset[str]] = [frozenset()] * n
        # starts "This…", "They…", or ends "…this growth." inside a paragraph
        self.refers_back = np.zeros(n, dtype=bool)
        self.continues = np.zeros(n, dtype=bool)  # in the paragraph of row - 1
        self.qualifies = np.zeros(n, dtype=bool)  # "However,…" in the paragraph of row - 1
        self.headings: list[str | None] = [None] * n
        self.docs: list[str] = [""] * n
        # Each document's sentence rows by where they start in its text.
        starts: dict[str, dict[int, int]] = {doc_id: {} for doc_id in data.documents}
        ends: dict[int, int] = {}
        for stored in data.chunks:
            doc = data.documents[stored.chunk.doc_id]
            lo, _ = stored.sentence_rows
            for k, (a, b) in enumerate(stored.chunk.sentences):
                row = lo + k
                starts[doc.doc_id][a] = row
                if self.texts[row]:
                    continue  # shared with the neighbouring chunk
                text = LIST_MARKER.sub("", doc.text[a:b]).strip()
                self.texts[row] = text
                self.terms[row] = frozenset(terms(text))
                self.refers_back[row] = bool(_ANAPHOR.match(text))
                ends[row] = b
                self.headings[row] = stored.chunk.heading
                self.docs[row] = stored.chunk.doc_id
        self.vectors = data.sentence_vectors
        self.centered, self.mean = centered(data.sentence_vectors)
        self.lists: list[ListSpan] = []
        self.list_of: dict[int, int] = {}  # row of a lead-in or item → its list
        for doc in data.documents.values():
            self._add_lists(doc, starts[doc.doc_id])
            self._add_paragraphs(doc.text, starts[doc.doc_id], ends)
        # A list's lead-in that speaks of the article ("Let's delve into these skills:")
        # still announces its list.
        self.framing = np.array(
            [bool(_FRAMING.search(t)) and not self.is_lead(r) for r, t in enumerate(self.texts)],
            dtype=bool,
        )

    def _add_paragraphs(self, text: str, starts: dict[int, int], ends: dict[int, int]) -> None:
        """Mark the sentences that go on the paragraph of the one before, and those of them
        that open with a contrast."""
        previous = None
        for start in sorted(starts):
            row = starts[start]
            if previous is not None and "\n" not in text[ends[previous] : start]:
                self.continues[row] = True
                self.qualifies[row] = bool(_CONTRAST.match(self.texts[row]))
                if _BRINGS_IN.match(self.texts[previous]):
                    self.refers_back[row] = True
                if _ENDS_ON_ANAPHOR.search(self.texts[row]):
                    self.refers_back[row] = True
            previous = row

    def heading_terms(self, row: int) -> frozenset[str]:
        """The words of the heading a row stands under."""
        heading = self.headings[row]
        return frozenset(terms(heading)) if heading else frozenset()

    def section_heading(self, row: int) -> str | None:
        """The heading of the section this row opens; None when it doesn't open one."""
        heading = self.headings[row]
        if row and self.docs[row - 1] == self.docs[row] and self.headings[row - 1] == heading:
            return None
        return heading

    def is_lead(self, row: int) -> bool:
        """Does this row announce a list ("Key trends include:")?"""
        number = self.list_of.get(row)
        return number is not None and self.lists[number].lead == row

    def leaves_list(self, row: int) -> bool:
        """Is this row a list's item that the next sentence follows out of the list?"""
        number = self.list_of.get(row)
        return number is not None and self.list_of.get(row + 1) != number

    def list_at(self, row: int) -> ListSpan | None:
        """The list this row leads into or is an item of."""
        number = self.list_of.get(row)
        return None if number is None else self.lists[number]

    def _add_lists(self, doc: StoredDocument, starts: dict[int, int]) -> None:
        """Find the document's runs of list items and the sentence leading into each."""
        offsets = sorted(starts)

        def rows_in(start: int, end: int) -> tuple[int, ...]:
            lo, hi = bisect.bisect_left(offsets, start), bisect.bisect_left(offsets, end)
            return tuple(starts[a] for a in offsets[lo:hi])

        rows_of = [rows_in(b.start, b.end) for b in doc.blocks]
        i = 0
        while i < len(doc.blocks):
            j = i
            while j < len(doc.blocks) and doc.blocks[j].kind == "item" and rows_of[j]:
                j += 1
            if j - i >= 2:
                self._add_list(doc, i, [rows_of[k] for k in range(i, j)], rows_of)
            i = max(j, i + 1)

    def _add_list(
        self,
        doc: StoredDocument,
        first: int,
        items: list[tuple[int, ...]],
        rows_of: list[tuple[int, ...]],
    ) -> None:
        before = doc.blocks[first - 1] if first else None
        lead = None
        if before is not None and before.kind != "heading" and rows_of[first - 1]:
            last = rows_of[first - 1][-1]
            if self.texts[last].endswith(":"):
                lead = last
        number = len(self.lists)
        self.lists.append(ListSpan(lead, doc.blocks[first].heading, tuple(items)))
        for row in ([lead] if lead is not None else []) + [r for item in items for r in item]:
            self.list_of.setdefault(row, number)

    def center(self, vector: np.ndarray) -> np.ndarray:
        """A question vector in the centered space of `centered`."""
        shifted = vector - self.mean
        norm = float(np.linalg.norm(shifted))
        return shifted / norm if norm > 0 else shifted


def centered(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vectors with the corpus' common direction taken out, renormalized.

    Every sentence of a career corpus is "about machine learning engineers"; taking
    out the mean leaves what distinguishes one sentence from another. The mean is
    shrunk for small corpora, where it is no common direction yet.
    """
    n = len(vectors)
    if not n:
        return vectors, np.zeros(vectors.shape[1], dtype=np.float32)
    mean = (vectors.mean(axis=0) * (n / (n + 100))).astype(np.float32)
    shifted = vectors - mean
    norms = np.linalg.norm(shifted, axis=1, keepdims=True)
    return (shifted / np.maximum(norms, 1e-12)).astype(np.float32), mean
