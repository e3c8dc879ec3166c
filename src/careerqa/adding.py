"""Adding a document to the corpus: a fetched page or a given file, saved as Markdown.

The corpus stays a folder a person can read and edit: whatever the format, the
document is converted (`converting.py`) and written as `<slug of its title>.md`
with front matter — title, url, and the date it was fetched (or added, with the
file's name). Adding the same URL (or the same file name) again replaces its file.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from .converting import CONVERTERS, MAX_BYTES, Converted, convert, markdown_file
from .corpus import TEXT_SUFFIXES, decode_article, parse_front_matter, slugify, title_from
from .errors import DocumentError
from .fetching import Fetched

_BY_CONTENT_TYPE = {
    "text/html": ".html",
    "application/xhtml+xml": ".html",
    "application/pdf": ".pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "text/plain": ".txt",
    "text/markdown": ".md",
    "text/x-markdown": ".md",
}
_MAGIC = ((b"%PDF-", ".pdf"), (b"PK\x03\x04", ".docx"))


@dataclass(frozen=True)
class Added:
    """A document written into the corpus."""

    path: Path
    title: str
    replaced: bool  # an earlier version of it was there


def kind_of(name: str, content_type: str, body: bytes) -> str:
    """The suffix to convert by: from the name, else the content type, else the bytes."""
    suffix = Path(name).suffix.lower()
    if suffix in TEXT_SUFFIXES or suffix in CONVERTERS:
        return suffix
    if content_type in _BY_CONTENT_TYPE:
        return _BY_CONTENT_TYPE[content_type]
    for magic, kind in _MAGIC:
        if body.startswith(magic):
            return kind
    if body.lstrip()[:1] == b"<":
        return ".html"
    raise DocumentError(
        f"cannot tell what kind of document {name or 'this'} is "
        f"({content_type or 'no content type'}); careerqa reads web pages, PDF, "
        ".docx, .txt and .md"
    )


def add(
    corpus_dir: Path,
    body: bytes,
    kind: str,
    *,
    name: str,
    url: str | None = None,
    today: dt.date | None = None,
) -> Added:
    """Convert `body` (a `kind` file: ".pdf", ".html"…) and save it into the corpus."""
    if len(body) > MAX_BYTES:
        raise DocumentError(f"{name} is over the {MAX_BYTES // 2**20} MB limit")
    converted = _converted(body, kind, name)
    title = converted.title or title_from(converted.text, Path(name))
    date = (today or dt.date.today()).isoformat()
    fetched = bool(url)
    extra = [("fetched", date)] if fetched else [("added", date), ("file", Path(name).name)]
    # The document's own canonical URL when it gives one: the same for every fetch.
    url = converted.url or url
    converted = Converted(converted.text, title, url)
    key = ("url", url or "") if fetched else ("file", Path(name).name)
    path, replaced = _destination(corpus_dir, title, key)
    temporary = path.with_name(f".{path.name}.tmp")  # hidden: the corpus skips it
    try:
        corpus_dir.mkdir(parents=True, exist_ok=True)
        temporary.write_text(markdown_file(converted, extra), encoding="utf-8")
        temporary.replace(path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise DocumentError(f"cannot write {path}: {exc.strerror or exc}") from None
    return Added(path, title, replaced)


def add_page(corpus_dir: Path, page: Fetched, requested: str) -> Added:
    """A fetched page (the URL asked for is its name in messages) saved into the corpus."""
    kind = kind_of(page.url.rsplit("/", 1)[-1], page.content_type, page.body)
    return add(corpus_dir, page.body, kind, name=requested, url=page.url)


def add_file(corpus_dir: Path, name: str, body: bytes, content_type: str = "") -> Added:
    """A file's bytes saved into the corpus under what its name (or type) says it is."""
    return add(corpus_dir, body, kind_of(name, content_type, body), name=Path(name).name)


def _converted(body: bytes, kind: str, name: str) -> Converted:
    try:
        if kind in TEXT_SUFFIXES:
            meta, text = decode_article(body)
            return Converted(text, meta.get("title"), meta.get("url"))
        return convert(kind, body)
    except ValueError as exc:
        raise DocumentError(f"cannot convert {name}: {exc}") from None


def _destination(corpus_dir: Path, title: str, key: tuple[str, str]) -> tuple[Path, bool]:
    """`<slug>.md` — the file this URL or file was saved to before, else a free name."""
    stem = slugify(title)[:80].strip("-") or "document"
    for n in range(1, 1000):
        path = corpus_dir / (f"{stem}.md" if n == 1 else f"{stem}-{n}.md")
        if not path.exists():
            return path, False
        if _front_matter_of(path).get(key[0]) == key[1]:
            return path, True
    raise DocumentError(f"too many documents named {stem} in {corpus_dir}")


def _front_matter_of(path: Path) -> dict[str, str]:
    try:
        with path.open(encoding="utf-8", errors="replace") as file:
            head = file.read(4096)
    except OSError:
        return {}
    return parse_front_matter(head)[0]
