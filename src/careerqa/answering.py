"""Extractive answers: the most relevant sentences of the retrieved passages, each cited.

Every sentence of the answer is copied from a passage and followed by the `[n]`
of the citation it came from. Whether to answer at all is decided by an
evidence score (see `evidence`), calibrated on the question sets (README).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import quote

from pydantic import BaseModel, Field

from .loaded import LoadedIndex
from .query import Query
from .retrieval import Hit
from .shapes import figure_kind, gives_figure
from .shaping import Part, shape_answer
from .units import candidate_units

NOT_COVERED = "The articles don't cover this question, so I can't answer it from them."
# A citation marker in an answer; numbers stay small (top_k ≤ 20 plus list passages).
_MARKER = re.compile(r"\[(\d{1,3})\]")


def cited_numbers(answer: str) -> set[int]:
    """The citation numbers an answer's `[n]` markers use."""
    return {int(n) for n in _MARKER.findall(answer)}


class Citation(BaseModel, frozen=True):
    """A retrieved passage; `n` is the number `[n]` markers in the answer use."""

    # The citation of the /ask contract: the API and `ask --json` serialize it as it is.

    n: int
    doc_id: str
    title: str
    source: str = Field(description="Path of the article, relative to the corpus folder.")
    heading: str | None
    text: str
    start: int = Field(description="Offset of the passage in the cleaned article text.")
    end: int
    score: float = Field(
        description="Retrieval score: dense similarity plus weighted relative BM25 "
        "(0 for a passage cited only for a list item it holds)."
    )
    url: str = Field(description="The source view with this passage highlighted.")
    page: int | None = Field(
        None, description="The page of the original the passage starts on (PDFs; else null)."
    )


class Unsupported(BaseModel, frozen=True):
    """A sentence of a generated answer that was dropped, and why."""

    text: str
    reason: str


@dataclass(frozen=True)
class Answer:
    """The reply to one question."""

    question: str
    answer: str
    answered: bool
    citations: list[Citation]
    evidence: float
    took_ms: float = 0.0
    mode: str = "extractive"  # or "generative"
    reason: str | None = None  # why a generated answer was not given
    unsupported: list[Unsupported] = field(default_factory=list)


@dataclass(frozen=True)
class Composed:
    """An answer's text, whether it answers at all, the evidence, and the hits it cites."""

    text: str
    answered: bool
    evidence: float
    cited: list[Hit] = field(default_factory=list)  # citation n is position + 1


def citation_url(doc_id: str, start: int, end: int) -> str:
    """Where the source view shows this passage highlighted."""
    return f"/sources/{quote(doc_id)}?start={start}&end={end}#passage"


def make_citations(hits: list[Hit], index: LoadedIndex) -> list[Citation]:
    """One citation per hit, numbered from 1 in rank order."""
    citations = []
    for n, hit in enumerate(hits, start=1):
        chunk = hit.chunk.chunk
        doc = index.data.documents[chunk.doc_id]
        citations.append(
            Citation(
                n=n,
                doc_id=chunk.doc_id,
                title=doc.title,
                source=doc.source,
                heading=chunk.heading,
                text=chunk.text,
                start=chunk.start,
                end=chunk.end,
                score=round(hit.score, 6),
                url=citation_url(chunk.doc_id, chunk.start, chunk.end),
                page=doc.page_at(chunk.start),
            )
        )
    return citations


def compose(
    query: Query,
    hits: list[Hit],
    index: LoadedIndex,
    *,
    threshold: float,
    max_sentences: int,
    extra: list[Hit] | None = None,
) -> Composed:
    """The answer to `query` from the sentences of the retrieved hits (and of `extra`
    passages, cited only if the answer uses them), or a refusal."""
    units = candidate_units(hits + (extra or []), index, query)
    if not units or query.unknown_names:
        return Composed(NOT_COVERED, False, 0.0)
    # A passage matches through its heading too ("Data Cleaning" over a bare item list).
    passage = max(float(index.data.vectors[hit.row] @ query.vector) for hit in hits)
    score = evidence(max(units[0].similarity, passage), query.kept_meaning)
    if query.already_said:
        # A follow-up wants something new: skip what the last reply already said.
        said = " ".join(query.already_said.split())
        table = index.sentences
        units = [u for u in units if not all(table.texts[r] in said for r in u.rows)] or units
    if score < threshold:
        return Composed(NOT_COVERED, False, score)
    shaped = shape_answer(
        query.question, query.expanded, units, index.sentences, max_sentences, index.lexical
    )
    if shaped.missing:
        return Composed(NOT_COVERED, False, 0.0)
    citer = _Citer(hits, index)
    lists = any(part.items for part in shaped.parts)
    text = ("\n" if lists else " ").join(_render(part, index, citer) for part in shaped.parts)
    if shaped.lead:
        text = f"{shaped.lead} {text}"
    return Composed(text, True, score, citer.hits)


def stating_figure(
    query: Query, hits: list[Hit], nearest: list[int], index: LoadedIndex
) -> list[Hit]:
    """For a figure question, one more passage: that of the sentence most like the question
    (in the centered space units are ranked in) among the store's `nearest` sentences that
    state a figure of the asked kind and that no hit holds. A passage on pay by experience may
    share too few words with "…a few years under their belt, what pay band…?" to be
    retrieved, while its sentence is among the nearest."""
    kind = figure_kind(query.question)
    if kind is None or not hits:
        return []
    table = index.sentences
    spans = [h.chunk.sentence_rows for h in hits]
    rows = [
        r
        for r in nearest
        if gives_figure(table.texts[r], kind) and not any(lo <= r < hi for lo, hi in spans)
    ]
    if not rows:
        return []
    closeness = table.centered[rows] @ table.center(query.vector)
    row = index.chunks_of_sentence[rows[int(closeness.argmax())]][0]
    return [Hit(row, index.data.chunks[row], 0.0)]


class _Citer:
    """Numbers for the passages an answer cites: the retrieved hits first, then any other
    passage holding a list item the answer names."""

    def __init__(self, hits: list[Hit], index: LoadedIndex):
        self.hits = list(hits)
        self._index = index

    def number(self, row: int) -> int:
        for n, hit in enumerate(self.hits, start=1):
            lo, hi = hit.chunk.sentence_rows
            if lo <= row < hi:
                return n
        chunk_row = self._index.chunks_of_sentence[row][0]
        self.hits.append(Hit(chunk_row, self._index.data.chunks[chunk_row], 0.0))
        return len(self.hits)


def _render(part: Part, index: LoadedIndex, citer: _Citer) -> str:
    """A part as answer text: its sentences and [n]; a list's items one per line."""
    texts = index.sentences.texts
    sentences = [_sentence(texts[r]) for r in part.rows]
    sentences[0] = _without_connective(sentences[0])
    if part.label:
        sentences[0] = f"{part.label}: {sentences[0]}"
    line = " ".join(sentences) + f" [{citer.number(part.rows[0])}]"
    items = [f"- {texts[item[0]].rstrip()} [{citer.number(item[0])}]" for item in part.items]
    return "\n".join([line, *items])


_CONNECTIVE = re.compile(
    # After an item's label, if any ("Algorithms: As mentioned earlier, …").
    r"^(?P<label>[A-Z][^:.?!]{0,60}:\s+)?"
    r"(?:(?:however|moreover|furthermore|additionally|also|in addition|besides|therefore|"
    r"thus|hence|similarly|likewise|that said|on the other hand|as a result|in short|"
    r"in conclusion|overall|finally|lastly|again|plus|what[’']s more|on top of that)\s*,\s*"
    # What points elsewhere in the article, or at its video: "As mentioned earlier, X",
    # "We covered this in the video earlier, but you need X".
    r"|as (?:(?:we )?(?:mentioned|noted|discussed|said|saw|stated|covered))"
    r"(?: (?:earlier|above|before|previously|in the video))*\s*,\s*"
    r"|we (?:covered|discussed|mentioned) (?:this|it|that)"
    r"(?: (?:earlier|above|before|previously|in the video))+\s*,\s*but\s+)",
    re.I,
)


def _without_connective(sentence: str) -> str:
    """ "However, X." read out of its paragraph is "X." """
    found = _CONNECTIVE.match(sentence)
    rest = sentence[found.end() :] if found else ""
    if found is None or not rest:
        return sentence
    return (found.group("label") or "") + rest[0].upper() + rest[1:]


def evidence(similarity: float, kept_meaning: float) -> float:
    """How well the passages support an answer.

    The best sentence's similarity to the question, scaled by how much of what the
    question asks (the question without the corpus' topic words) survives once the
    words the articles never use are taken out: "the salary of a registered nurse"
    loses its subject and most of its meaning, "which cities pay the most" keeps most
    of it, and "can ML engineers work remotely" is "can work remotely", which loses
    most of it.
    """
    return similarity * max(kept_meaning, 0.0)


def _sentence(text: str) -> str:
    text = text.rstrip()
    return text if text.endswith((".", "!", "?", ":", '"', "”")) else text + "."
