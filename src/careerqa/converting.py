"""Turning web pages, PDFs and Word files into the Markdown the corpus is read as.

Each converter takes a file's bytes and returns a `Converted`: title, canonical URL
and Markdown — "# " headings, "- " list items, one paragraph a line, table rows as
"Header: cell; Header: cell" lines — which cleaning and chunking then read like any
`.md` article. A PDF's pages are marked with `<!-- page N -->` lines; cleaning turns
them into each block's page, so a citation can say "p. 4".

Conversion refuses what would take unbounded time or memory: files over
`MAX_BYTES`, PDFs over `MAX_PAGES` pages or whose streams inflate past pypdf's
limits, Word files whose parts inflate past `MAX_UNZIPPED`, HTML nested deeper
than the parser keeps. Every refusal is a `ValueError` naming the reason.
"""

from __future__ import annotations

import io
import logging
import re
import statistics
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .cleaning import page_mark

log = logging.getLogger(__name__)

MAX_BYTES = 50 * 2**20  # a bigger file is refused before it is read
MAX_PAGES = 2_000
MAX_UNZIPPED = 200 * 2**20  # a .docx whose parts inflate past this is a zip bomb


@dataclass(frozen=True)
class Converted:
    """A document as Markdown, with what its file says about it."""

    text: str
    title: str | None = None
    url: str | None = None
    empty_pages: tuple[int, ...] = ()  # PDF pages without a text layer (scanned)


def table_lines(rows: list[list[str]]) -> list[str]:
    """A table as lines: each row after the first as "Header: cell; Header: cell"."""
    rows = [[" ".join(cell.split()) for cell in row] for row in rows if any(c.strip() for c in row)]
    if len(rows) < 2:
        return [" ".join(c for c in row if c) for row in rows]
    header = rows[0]
    out = []
    for row in rows[1:]:
        pairs = [f"{h}: {c}" if h and h != c else c for h, c in zip(header, row, strict=False)]
        out.append("; ".join(p for p in pairs if p) + ".")
    return out


# --- HTML -----------------------------------------------------------------------------------

_MD_TABLE_ROW = re.compile(r"^\|(.*)\|\s*$")
_MD_RULE = re.compile(r"^\|?\s*:?-{2,}")


def html(raw: bytes) -> Converted:
    """The page's main content (trafilatura), its title and canonical URL."""
    import trafilatura

    tree = trafilatura.load_html(raw)
    if tree is None:
        raise ValueError("not a readable HTML page")
    markdown = trafilatura.extract(
        tree,
        output_format="markdown",
        include_formatting=True,
        include_comments=False,
        include_tables=True,
        include_links=False,
        include_images=False,
    )
    if not markdown or not markdown.strip():
        raise ValueError("no main content found in the page")
    meta = trafilatura.extract_metadata(tree)
    title = meta.title if meta and meta.title else None
    url = meta.url if meta and meta.url and meta.url.startswith(("http://", "https://")) else None
    return Converted(_tables_as_lines(markdown), title, url)


def _tables_as_lines(markdown: str) -> str:
    out: list[str] = []
    table: list[list[str]] = []
    for line in markdown.splitlines() + [""]:
        row = _MD_TABLE_ROW.match(line.strip())
        if row:
            if not _MD_RULE.match(line.strip()):
                table.append([cell.strip() for cell in row.group(1).split("|")])
            continue
        if table:
            out.extend(table_lines(table))
            table = []
        out.append(line)
    return "\n".join(out).strip() + "\n"


# --- PDF ------------------------------------------------------------------------------------


@dataclass
class _Line:
    text: str
    y: float
    size: float


def pdf(raw: bytes) -> Converted:
    """Text by page (pypdf), headings from font size, pages marked."""
    import pypdf
    from pypdf.errors import PdfReadError

    try:
        reader = pypdf.PdfReader(io.BytesIO(raw))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ValueError("the PDF is encrypted")
        if len(reader.pages) > MAX_PAGES:
            raise ValueError(f"{len(reader.pages)} pages, more than {MAX_PAGES}")
        pages = [_page_lines(page) for page in reader.pages]
        info = reader.metadata
    except (PdfReadError, pypdf.errors.PyPdfError) as exc:
        raise ValueError(f"not a readable PDF ({exc})") from None
    except (RecursionError, MemoryError):
        raise ValueError("the PDF is too deeply nested or too large to read") from None
    empty = tuple(n for n, lines in enumerate(pages, start=1) if not lines)
    for n in empty:
        _check_inflates(reader.pages[n - 1], n)
    if len(empty) == len(pages):
        raise ValueError("no text layer on any page (a scanned PDF? run OCR first)")
    body = _body_size(pages)
    parts: list[str] = []
    for number, lines in enumerate(pages, start=1):
        parts.append(page_mark(number))
        parts.extend(_page_markdown(lines, body))
    title = str(info.title).strip() if info and info.title else None
    return Converted("\n".join(parts) + "\n", title or None, None, empty)


def _check_inflates(page: Any, number: int) -> None:
    """ValueError when a page came out empty because its content would not inflate.

    pypdf stops inflating a stream past its limit (a PDF bomb) and then extracts
    nothing from the page, silently: that must not pass for a scanned page.
    """
    from pypdf.errors import LimitReachedError

    try:
        contents = page.get_contents()
        if contents is not None:
            contents.get_data()
    except LimitReachedError:
        raise ValueError(
            f"page {number} inflates past the decompression limit (a PDF bomb?)"
        ) from None


def _page_lines(page: object) -> list[_Line]:
    """The page's text lines, top to bottom, each with its position and font size."""
    pieces: list[tuple[str, float, float]] = []

    def visit(text: str, cm: list[float], tm: list[float], font: object, size: float) -> None:
        if text.strip():
            scale = abs(tm[3] * cm[3]) or 1.0
            pieces.append((text, round(tm[5] * cm[3] + cm[5], 1), size * scale))
        elif "\n" in text and pieces:
            pieces.append(("\n", pieces[-1][1], pieces[-1][2]))

    page.extract_text(visitor_text=visit)  # type: ignore[attr-defined]
    lines: list[_Line] = []
    for text, y, size in pieces:
        if text == "\n" or not lines or abs(lines[-1].y - y) > 1.0:
            if text != "\n":
                lines.append(_Line(text, y, size))
            continue
        lines[-1].text += text
        lines[-1].size = max(lines[-1].size, size)
    return [line for line in lines if line.text.strip()]


def _body_size(pages: list[list[_Line]]) -> float:
    """The font size most of the text is set in (most characters; ties: the first seen)."""
    chars: Counter[float] = Counter()
    for lines in pages:
        for line in lines:
            chars[round(line.size, 1)] += len(line.text)
    return chars.most_common(1)[0][0] if chars else 0.0


_BULLET = re.compile(r"^\s*(?:[•●▪◦‣·*-]|\d{1,2}[.)])\s+")


def _page_markdown(lines: list[_Line], body: float) -> list[str]:
    """Headings, list items and paragraphs (wrapped lines joined) of one page."""
    gaps = [a.y - b.y for a, b in zip(lines, lines[1:], strict=False) if 0 < a.y - b.y < 4 * body]
    step = statistics.median(gaps) if gaps else body * 1.2
    out: list[str] = []
    paragraph = ""
    last_y: float | None = None
    for line in lines:
        text = " ".join(line.text.split())
        heading = line.size >= body * 1.15 and len(text.split()) <= 14 and text[-1:] != "."
        starts = heading or bool(_BULLET.match(text)) or last_y is None
        if not starts and last_y is not None and last_y - line.y > step * 1.4:
            starts = True  # a wider gap: a new paragraph
        if starts and paragraph:
            out.append(paragraph)
            paragraph = ""
        last_y = line.y
        if heading:
            out.append(("# " if line.size >= body * 1.5 else "## ") + text)
            last_y = None
        elif _BULLET.match(text):
            paragraph = "- " + _BULLET.sub("", text)
        else:
            paragraph = _joined(paragraph, text)
    if paragraph:
        out.append(paragraph)
    return out


def _joined(paragraph: str, text: str) -> str:
    if not paragraph:
        return text
    if paragraph.endswith("-") and text[:1].islower():  # a word hyphenated at the line end
        return paragraph[:-1] + text
    return f"{paragraph} {text}"


# --- Word -----------------------------------------------------------------------------------


def docx(raw: bytes) -> Converted:
    """Paragraphs, headings (from styles), list items and tables, in document order."""
    _check_zip(raw)
    import docx as python_docx
    from docx.table import Table

    try:
        document = python_docx.Document(io.BytesIO(raw))
    except Exception as exc:  # python-docx raises many kinds on a broken package
        raise ValueError(f"not a readable Word document ({type(exc).__name__})") from None
    lines: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            rows = [[cell.text for cell in row.cells] for row in block.rows]
            lines.extend(table_lines(rows))
        else:
            lines.extend(_paragraph_line(block.text, block.style.name if block.style else ""))
    text = "\n".join(line for line in lines if line)
    if not text.strip():
        raise ValueError("the document has no text")
    title = (document.core_properties.title or "").strip() or None
    return Converted(text + "\n", title)


def _paragraph_line(text: str, style: str) -> list[str]:
    text = " ".join(text.split())
    if not text:
        return []
    level = re.match(r"(?:Heading|Überschrift|Titre)\s*(\d)", style)
    if style == "Title" or level:
        depth = 1 if style == "Title" else min(int(level.group(1)) + 1, 6)  # type: ignore[union-attr]
        return ["#" * depth + " " + text]
    if style.startswith("List") and not _BULLET.match(text):
        return ["- " + text]
    return [text]


def _check_zip(raw: bytes) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as package:
            inflated = sum(info.file_size for info in package.infolist())
    except zipfile.BadZipFile:
        raise ValueError("not a Word document (not a zip package)") from None
    if inflated > MAX_UNZIPPED:
        raise ValueError(f"its parts inflate to {inflated / 2**20:.0f} MB (a zip bomb?)")


# --- Dispatch -------------------------------------------------------------------------------

CONVERTERS: dict[str, Callable[[bytes], Converted]] = {
    ".html": html,
    ".htm": html,
    ".pdf": pdf,
    ".docx": docx,
}


def convert(suffix: str, raw: bytes) -> Converted:
    """Convert a file's bytes by its suffix; ValueError with the reason when it can't."""
    if len(raw) > MAX_BYTES:
        raise ValueError(f"{len(raw) / 2**20:.0f} MB, more than the {MAX_BYTES // 2**20} MB limit")
    try:
        return CONVERTERS[suffix.lower()](raw)
    except ValueError:
        raise
    except RecursionError:
        raise ValueError("nested too deeply to convert") from None
    except MemoryError:
        raise ValueError("too large to convert in memory") from None
    except Exception as exc:  # a library's own error on a malformed file: report, go on
        raise ValueError(f"could not be converted ({type(exc).__name__}: {exc})") from None


def markdown_file(converted: Converted, extra: Iterable[tuple[str, str]] = ()) -> str:
    """A Markdown article with front matter (title, url, and any extra keys)."""
    meta = [("title", converted.title), ("url", converted.url), *extra]
    front = "".join(f"{k}: {_one_line(v)}\n" for k, v in meta if v)
    return f"---\n{front}---\n{converted.text}" if front else converted.text


def _one_line(value: str) -> str:
    return " ".join(str(value).split())
