"""Chunking cleaned documents: sentence-aware, sized for the model, with overlap."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

from .cleaning import CleanDocument

# Abbreviations after which a period does not end a sentence.
_ABBREVIATIONS = {
    "e.g",
    "i.e",
    "vs",
    "etc",
    "dr",
    "mr",
    "mrs",
    "ms",
    "prof",
    "ph",
    "st",
    "no",
    "approx",
    "inc",
    "ltd",
    "jr",
    "sr",
    "u.s",
    "u.k",
    "fig",
    "al",
    "d",
}
_LONE_NUMBER = re.compile(r"\d{1,2}|[ivx]{1,4}", re.I)
_BOUNDARY = re.compile(r"[.!?]+[\"”’)\]]*\s+(?=[\"“‘(\[]?[A-Z0-9$])")


@dataclass(frozen=True)
class Chunk:
    """A passage of a cleaned document: what gets embedded, retrieved and cited."""

    chunk_id: str
    doc_id: str
    heading: str | None
    text: str
    start: int
    end: int
    sentences: tuple[tuple[int, int], ...]  # spans in the cleaned text, in order

    @property
    def embed_text(self) -> str:
        """The heading gives the passage its context when embedded."""
        return f"{self.heading}\n{self.text}" if self.heading else self.text


@dataclass(frozen=True)
class ChunkSettings:
    """What decides how documents are cut; part of the index manifest."""

    max_tokens: int
    overlap: int


def split_sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentence spans of text[start:end], as absolute offsets."""
    spans: list[tuple[int, int]] = []
    cursor = start
    for match in _BOUNDARY.finditer(text, start, end):
        head = text[cursor : match.start()]
        last_word = head.rsplit(None, 1)[-1].lower().strip('.(["“‘') if head.strip() else ""
        if last_word in _ABBREVIATIONS or (len(last_word) == 1 and last_word.isalpha()):
            continue
        if _LONE_NUMBER.fullmatch(head.strip()):
            continue  # "1. Developing…": a numbered item's marker, not a sentence
        stop = match.end()
        while stop > cursor and text[stop - 1].isspace():
            stop -= 1
        spans.append((cursor, stop))
        cursor = match.end()
    if cursor < end and text[cursor:end].strip():
        spans.append((cursor, end))
    return spans


def _split_long(
    text: str, span: tuple[int, int], fits: Callable[[int, int], bool]
) -> list[tuple[int, int]]:
    """Cut a sentence too long for the model at word boundaries until each piece fits."""
    start, end = span
    if fits(start, end):
        return [span]
    words = [m.span() for m in re.finditer(r"\S+", text[start:end])]
    if len(words) < 2:
        return [span]  # one giant token run; the chunker reports it via its count
    mid = start + words[len(words) // 2][0]
    left_end = mid
    while left_end > start and text[left_end - 1].isspace():
        left_end -= 1
    return _split_long(text, (start, left_end), fits) + _split_long(text, (mid, end), fits)


def chunk_document(
    clean: CleanDocument,
    settings: ChunkSettings,
    count_tokens: Callable[[list[str]], list[int]],
) -> list[Chunk]:
    """Cut a document into chunks of whole sentences under the token limit."""
    text = clean.text
    # Sections: runs of non-heading blocks under the same heading.
    sections: list[tuple[str | None, list[tuple[int, int]]]] = []
    for block in clean.blocks:
        if block.kind == "heading":
            sections.append((text[block.start : block.end], []))
            continue
        if not sections or sections[-1][0] != block.heading:
            sections.append((block.heading, []))
        sections[-1][1].extend(split_sentences(text, block.start, block.end))

    chunks: list[Chunk] = []
    for heading, sentences in sections:
        if not sentences:
            continue
        prefix = f"{heading}\n" if heading else ""

        def fits(a: int, b: int, prefix: str = prefix) -> bool:
            return count_tokens([prefix + text[a:b]])[0] <= settings.max_tokens

        # One tokenizer call for the section; only oversized sentences are cut further.
        lengths = count_tokens([prefix + text[a:b] for a, b in sentences])
        pieces = [
            p
            for s, n in zip(sentences, lengths, strict=True)
            for p in ([s] if n <= settings.max_tokens else _split_long(text, s, fits))
        ]
        chunks.extend(_pack(clean, heading, pieces, settings, fits, count_tokens))
    return chunks


def _pack(
    clean: CleanDocument,
    heading: str | None,
    pieces: list[tuple[int, int]],
    settings: ChunkSettings,
    fits: Callable[[int, int], bool],
    count_tokens: Callable[[list[str]], list[int]],
) -> list[Chunk]:
    """Greedy packing by summed piece counts (exact for word-piece tokenizers), then checked."""
    text = clean.text
    special = count_tokens([""])[0]
    prefix_cost = count_tokens([f"{heading}\n"])[0] - special if heading else 0
    costs = [n - special for n in count_tokens([text[a:b] for a, b in pieces])]
    budget = settings.max_tokens - special - prefix_cost
    chunks: list[Chunk] = []
    i = 0
    while i < len(pieces):
        j, used = i + 1, costs[i]
        while j < len(pieces) and used + costs[j] <= budget:
            used += costs[j]
            j += 1
        while j > i + 1 and not fits(pieces[i][0], pieces[j - 1][1]):
            j -= 1  # the estimate was off for this tokenizer
        chunks.append(_make_chunk(clean, heading, tuple(pieces[i:j]), settings))
        if j >= len(pieces):
            break
        # Step back to share `overlap` sentences, but always move forward.
        i = max(j - settings.overlap, i + 1)
    return chunks


def _make_chunk(
    clean: CleanDocument,
    heading: str | None,
    sentences: tuple[tuple[int, int], ...],
    settings: ChunkSettings,
) -> Chunk:
    start, end = sentences[0][0], sentences[-1][1]
    body = clean.text[start:end]
    key = f"{clean.doc_id}|{start}|{end}|{settings.max_tokens}|{settings.overlap}|{body}"
    return Chunk(
        chunk_id=hashlib.sha256(key.encode()).hexdigest()[:16],
        doc_id=clean.doc_id,
        heading=heading,
        text=body,
        start=start,
        end=end,
        sentences=sentences,
    )
