"""Cleaning articles: drop web boilerplate and junk, recognise headings, keep offsets.

Rules are general (what navigation lines, comment forms, tag lists and keyboard
noise look like), never lists of one article's lines. The cleaned text is what
chunks, citations and the source view all point into, so offsets are exact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

_MD_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*$")
# Where a page of the original starts ("<!-- page 4 -->", written by converting.py).
_PAGE_MARK = re.compile(r"^<!--\s*page\s+(\d{1,5})\s*-->$")


def page_mark(number: int) -> str:
    """The line that says page `number` of the original starts here."""
    return f"<!-- page {number} -->"


# A list item's marker: a bullet, or a number with "." or ")".
_MARKER = r"(?:[-*•·‣◦▪●–]|\d{1,2}[.)])\s+"
LIST_MARKER = re.compile(rf"^{_MARKER}")
_NAVIGATION = re.compile(
    r"^(?:read(?:\s+(?:also|more|next|this))?|also\s+read|see\s+also|related(?:\s+\w+)?|"
    r"popular\s+posts?|recent\s+posts?|recommended(?:\s+\w+)?|you\s+may\s+also\s+like|"
    r"share\s+(?:this|on)\b.*|follow\s+us|subscribe(?:\s+\w+)?)\s*[:\-–—]",
    re.I,
)
_COMMENT_FORM = re.compile(
    r"^(?:leave\s+a\s+(?:reply|comment)|cancel\s+reply|post\s+comment|submit\s+comment|"
    r"\d+\s+comments?|comments?\s+are\s+closed)\W*$"
    r"|your\s+email\s+address\s+will\s+not\s+be\s+published|required\s+fields\s+are\s+marked"
    r"|save\s+my\s+name,\s+email",
    re.I,
)
_TAG_LINE = re.compile(r"^tags?\s*:", re.I)
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_DATE = rf"(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day,?\s+)?{_MONTH}\.?\s+\d{{1,2}},?\s+\d{{4}}"
# A bare date is when the page was fetched or shown, and says nothing about the article;
# a labelled one ("Last Updated on August 14, 2023") is a fact about it a reader may ask
# for ("When was the article last updated?"), so it is kept as a sentence.
_DATE_LINE = re.compile(rf"^{_DATE}$", re.I)
_DATED_LINE = re.compile(
    rf"^(?:last\s+)?(?:updated|published|posted|modified|written)(?:\s+on)?\s*:?\s*{_DATE}$", re.I
)
# Notes a writer left for themselves ("Preview the article's focus … so readers know …").
_INSTRUCTION_VERB = (
    r"(?:preview|summari[sz]e|explain|mention|highlight|emphasi[sz]e|encourage|suggest|"
    r"recommend|clarify|reiterate|introduce|describe|discuss|include|insert|end\s+with|note|stress)"
)
_WRITER_NOTE = re.compile(
    rf"^{_INSTRUCTION_VERB}\b.*\b(?:readers?|the\s+article|this\s+article|this\s+section|"
    rf"the\s+post|this\s+post|call-to-action)\b",
    re.I,
)
# Notes inside a line, after an optional "Label: ": a verb a writer uses about the text
# ("Highlight the benefits of…", "Encourage readers to…", "Clarify how…"). The verb and
# who it addresses go; what follows it is content ("Explain that X" keeps X). A note that
# only names a topic ("Clarify how X differs from Y") goes whole.
_WRITER_VERB = (
    r"(?:preview|summari[sz]e|mention|highlight|emphasi[sz]e|encourage|suggest|recommend|"
    r"clarify|reiterate|stress|note|point\s+out)"
)
_TOPIC_VERB = r"(?:explain|describe|discuss|introduce|outline|include|show)"
_TO_READER = r"(?:(?:the\s+)?(?:readers?|audience|students|learners|them)\s+(?:to\s+|that\s+)?)"
_NOTE_OBJECT = (
    rf"(?:that\s+|{_TO_READER}|(?=(?:how|why|what|whether|when|where)\b)|"
    r"(?=the\s+(?:importance|benefits?|value|advantages?|need|role)\b))"
)
_NOTE_SENTENCE = re.compile(
    rf"^(?:{_WRITER_VERB}\s+{_NOTE_OBJECT}?|{_TOPIC_VERB}\s+{_NOTE_OBJECT})(?P<rest>.*)$",
    re.I | re.S,
)
# "Encourage readers to share their work" keeps "Share your work".
_READER = re.compile(r"\b(?:readers?|audience|students|learners)\b", re.I)
_THEIR = re.compile(r"\b(?:their|theirs|themselves)\b", re.I)
_YOUR = {"their": "your", "theirs": "yours", "themselves": "yourself"}
# A second writer's verb inside a note ("Suggest ideas such as X, and recommend
# documenting each step") goes too: "…such as X, and documenting each step".
_INNER_NOTE = re.compile(
    rf"(,?\s+(?:and|or|then)\s+){_WRITER_VERB}\s+(?:{_NOTE_OBJECT}|(?=\w+ing\b))", re.I
)
_TOPIC_ONLY = re.compile(r"^(?:how|why|what|whether|when|where)\b", re.I)
_LINE_LABEL = re.compile(
    rf"^((?:{_MARKER})?(?:(?:[^:.!?]|\b(?:vs|etc|approx|no|st)\.){{1,60}}:\s+)?)",
    re.I,
)
_IN_LINE_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_TERMINAL = (".", ",", ";", "!", "”", '"')


@dataclass(frozen=True)
class Block:
    """A kept line of the cleaned text: a heading, a paragraph or a list item."""

    kind: str  # "heading" | "paragraph" | "item"
    start: int
    end: int
    heading: str | None  # the nearest heading above a paragraph or item
    page: int | None = None  # the page it is on, for documents with pages (PDFs)


class Article(Protocol):
    """What cleaning reads of a document (corpus.Document has it)."""

    @property
    def doc_id(self) -> str: ...

    @property
    def text(self) -> str: ...


@dataclass(frozen=True)
class CleanDocument:
    """A document after cleaning: the text citations point into, and its blocks."""

    doc_id: str
    text: str
    blocks: tuple[Block, ...]


def _is_hashtag_list(line: str) -> bool:
    tokens = line.split()
    return len(tokens) >= 2 and sum(t.startswith("#") for t in tokens) / len(tokens) > 0.5


def is_boilerplate(line: str) -> bool:
    """Navigation, promotion, comment-form, tag and date lines."""
    return bool(
        _NAVIGATION.match(line)
        or _COMMENT_FORM.search(line)
        or _TAG_LINE.match(line)
        or _is_hashtag_list(line)
        or _DATE_LINE.match(line)
        or _WRITER_NOTE.match(line)
    )


def is_dated(line: str) -> bool:
    """A line that only dates the article: "Last Updated on August 14, 2023"."""
    return bool(_DATED_LINE.match(line.rstrip(".")))


def without_notes(line: str) -> str:
    """The line without the writer's notes in it; "" when nothing but notes and a label."""
    prefix = _LINE_LABEL.match(line)
    head = prefix.group(1) if prefix else ""
    kept = []
    for sentence in _IN_LINE_SENTENCE.split(line[len(head) :]):
        note = _NOTE_SENTENCE.match(sentence)
        if note is None:
            kept.append(sentence)
        elif note.group("rest") and not _TOPIC_ONLY.match(note.group("rest")):
            rest = _INNER_NOTE.sub(r"\1", note.group("rest"))
            if _READER.search(sentence[: note.start("rest")]):
                # What the readers were to be told to do, told to the reader.
                rest = _THEIR.sub(lambda m: _YOUR[m.group().lower()], rest)
            kept.append(rest[0].upper() + rest[1:])
    if not kept:
        return ""
    return head + " ".join(kept)


def _is_noise(line: str) -> bool:
    """Lines with no words: lone numbers, symbols, keyboard mashing."""
    if not re.search(r"[A-Za-z]", line):
        return True
    line = LIST_MARKER.sub("", line)  # "• Mathematics" is a list item, not mashing
    tokens = line.split()
    if len(line) > 24 or len(tokens) > 3 or line[0].isupper() or line.endswith(_TERMINAL):
        return False
    return any(
        re.search(r"\d", t) and re.search(r"[a-z]", t, re.I) or not re.search(r"[aeiouy]", t, re.I)
        for t in tokens
    )


def _is_weak(line: str) -> bool:
    """Short lower-case fragments: junk when they stand next to noise."""
    return len(line) <= 24 and len(line.split()) <= 3 and not line[0].isupper()


def is_heading(line: str) -> bool:
    """A short line with no sentence ending and no list marker."""
    if LIST_MARKER.match(line) or len(line) > 110:
        return False
    words = line.split()
    if line.endswith("?"):
        return len(words) <= 12 and line[0].isupper()
    if line.endswith(":"):
        return len(words) <= 2 and line[0].isupper()
    return len(words) <= 14 and line[0].isupper() and not line.endswith(_TERMINAL)


def _drop_noise_runs(lines: list[str]) -> list[bool]:
    noise = [bool(line) and not _MD_HEADING.match(line) and _is_noise(line) for line in lines]
    # A weak fragment touching noise (through blank lines) is part of the junk run.
    changed = True
    while changed:
        changed = False
        for i, line in enumerate(lines):
            if not line or noise[i] or not _is_weak(line):
                continue
            neighbours = [j for j in (_next_nonblank(lines, i, -1), _next_nonblank(lines, i, 1))]
            if any(j is not None and noise[j] for j in neighbours):
                noise[i] = changed = True
    return noise


def _next_nonblank(lines: list[str], i: int, step: int) -> int | None:
    j = i + step
    while 0 <= j < len(lines):
        if lines[j]:
            return j
        j += step
    return None


def clean(doc: Article) -> CleanDocument:
    """Apply the cleaning rules and build the cleaned text with its blocks."""
    lines = [line.strip() for line in doc.text.split("\n")]
    noise = _drop_noise_runs(lines)
    parts: list[str] = []
    blocks: list[Block] = []
    offset = 0
    heading: str | None = None
    page: int | None = None
    previous = None
    for line, is_noise_line in zip(lines, noise, strict=True):
        if mark := _PAGE_MARK.match(line):
            page = int(mark.group(1))
            continue
        if not line or is_noise_line or is_boilerplate(line) or line == previous:
            continue
        previous = line
        markdown = _MD_HEADING.match(line)
        if is_dated(line):
            kind, text = "paragraph", f"{line}."
        elif markdown or is_heading(line):
            kind = "heading"
            text = markdown.group(1) if markdown else line.rstrip(":").strip()
            heading = text
        else:
            kind = "item" if LIST_MARKER.match(line) else "paragraph"
            text = without_notes(line)
            if not text:
                continue
        if parts:
            offset += 1  # the "\n" joining blocks
        under = None if kind == "heading" else heading
        blocks.append(Block(kind, offset, offset + len(text), under, page))
        parts.append(text)
        offset += len(text)
    return CleanDocument(doc_id=doc.doc_id, text="\n".join(parts), blocks=tuple(blocks))
