"""Loading articles from the corpus folder into Documents."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from .cleaning import is_boilerplate
from .converting import CONVERTERS, MAX_BYTES, Converted, convert
from .errors import CorpusError

log = logging.getLogger(__name__)

TEXT_SUFFIXES = (".txt", ".md")
SUFFIXES = (*TEXT_SUFFIXES, *CONVERTERS)
KINDS = ", ".join(SUFFIXES[:-1]) + " or " + SUFFIXES[-1]  # for messages
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.S)
_KEY_VALUE = re.compile(r"^\s*([A-Za-z_][\w-]*)\s*:\s*(.*?)\s*$")


@dataclass(frozen=True)
class Document:
    """One source article as read from disk (front matter removed, text untouched)."""

    doc_id: str
    title: str
    source: str
    text: str
    content_hash: str
    url: str | None = None
    empty_pages: tuple[int, ...] = ()  # pages of a PDF with no text layer
    path: Path | None = None  # the file read (links resolved), to read it again


@dataclass
class CorpusReport:
    """What loading found: the documents and the files it could not use, with reasons."""

    documents: list[Document] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)  # used, but with a problem


def slugify(text: str) -> str:
    """Lower-case URL-safe id made of letters, digits and dashes."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug or "doc"


def parse_front_matter(text: str) -> tuple[dict[str, str], str]:
    """Split optional `---` front matter (simple `key: value` lines) from the body."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    meta: dict[str, str] = {}
    for line in match.group(1).splitlines():
        kv = _KEY_VALUE.match(line)
        if kv:
            meta[kv.group(1).lower()] = kv.group(2).strip("\"'")
    return meta, text[match.end() :]


def title_from(body: str, path: Path) -> str:
    for line in body.splitlines():
        line = line.strip()
        # Dates, navigation and one-word categories are not titles.
        if line.startswith("<!--"):
            continue  # a page mark or comment
        if len(line.split()) >= 3 and not line.endswith((".", ",")) and not is_boilerplate(line):
            return line.lstrip("# ").strip()
    return path.stem.replace("_", " ").replace("-", " ").strip().capitalize()


def decode_article(raw: bytes) -> tuple[dict[str, str], str]:
    """The front matter and body of a .txt / .md article; ValueError says why not."""
    try:
        decoded = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 text (byte {exc.start})") from None
    if "\x00" in decoded:
        raise ValueError("binary content (NUL bytes)")
    meta, body = parse_front_matter(decoded.replace("\r\n", "\n").replace("\r", "\n"))
    if not body.strip():
        raise ValueError("empty file")
    return meta, body


def read_document(
    path: Path, source: str, doc_id: str, cache: ConversionCache | None = None
) -> Document:
    """Read one file (converting web pages, PDFs and Word files); ValueError says why not."""
    if path.suffix.lower() not in TEXT_SUFFIXES:
        return _read_converted(path, source, doc_id, cache)
    raw = path.read_bytes()
    meta, body = decode_article(raw)
    return Document(
        doc_id=doc_id,
        title=meta.get("title") or title_from(body, path),
        source=source,
        text=body,
        content_hash=hashlib.sha256(raw).hexdigest(),
        url=meta.get("url") or None,
        path=path,
    )


def _read_converted(
    path: Path, source: str, doc_id: str, cache: ConversionCache | None
) -> Document:
    size = path.stat().st_size
    if size > MAX_BYTES:  # refused before it is read
        raise ValueError(f"{size / 2**20:.0f} MB, more than the {MAX_BYTES // 2**20} MB limit")
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    converted = cache.get(digest) if cache else None
    if converted is None:
        converted = convert(path.suffix, raw)
        if cache:
            cache.put(digest, converted)
    return Document(
        doc_id=doc_id,
        title=converted.title or title_from(converted.text, path),
        source=source,
        text=converted.text,
        content_hash=digest,
        url=converted.url,
        empty_pages=converted.empty_pages,
        path=path,
    )


class ConversionCache:
    """Converted documents by the SHA-256 of their file: unchanged files convert once."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.used: set[str] = set()

    def get(self, digest: str) -> Converted | None:
        self.used.add(digest)
        try:
            raw = json.loads((self.folder / f"{digest}.json").read_text(encoding="utf-8"))
            return Converted(**{**raw, "empty_pages": tuple(raw["empty_pages"])})
        except (OSError, ValueError, TypeError, KeyError):
            return None  # missing or unreadable: convert again

    def put(self, digest: str, converted: Converted) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            temporary = self.folder / f".{digest}.tmp"
            temporary.write_text(json.dumps(asdict(converted)), encoding="utf-8")
            temporary.replace(self.folder / f"{digest}.json")
        except OSError as exc:  # a cache that cannot be written only costs time
            log.warning("could not cache a converted document in %s: %s", self.folder, exc)

    def prune(self) -> None:
        """Forget the conversions of files that are no longer in the corpus."""
        for entry in self.folder.glob("*.json"):
            if entry.stem not in self.used:
                entry.unlink(missing_ok=True)


def load_corpus(
    corpus_dir: Path, cache_dir: Path | None = None, *, texts: bool = True
) -> CorpusReport:
    """Read every article file below corpus_dir; report the ones it skips, by name.

    Web pages, PDFs and Word files are converted (`converting.py`); with a
    `cache_dir`, each conversion is kept there by the file's hash and reused.
    With `texts=False` each document's text is dropped once read (`with_text` reads
    it again): the listing of a corpus of any size holds no article's text.

    A file is read only when its real path (links resolved) is inside the corpus
    folder: a link to /etc/passwd is reported, never indexed or served.
    """
    if not corpus_dir.is_dir():
        raise CorpusError(
            f"corpus folder {corpus_dir} does not exist — create it and put articles "
            f"({KINDS}) in it, or set CAREERQA_CORPUS_DIR"
        )
    report = CorpusReport()
    cache = ConversionCache(cache_dir) if cache_dir else None
    used_ids: set[str] = set()
    for _, source, real in _corpus_files(corpus_dir, report):
        doc_id = slugify(source.rsplit(".", 1)[0])
        if doc_id in used_ids:
            doc_id = slugify(source)
        try:
            doc = read_document(real, source, doc_id, cache)
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            _skip(report, source, reason)
            continue
        used_ids.add(doc_id)
        report.documents.append(doc if texts else replace(doc, text=""))
        if doc.empty_pages:
            pages = ", ".join(map(str, doc.empty_pages))
            report.warnings.append((source, f"no text on page(s) {pages} (scanned? run OCR)"))
            log.warning("%s: no text on page(s) %s (scanned? run OCR)", source, pages)
    if cache:
        cache.prune()
    return report


def with_text(doc: Document, cache_dir: Path | None = None) -> Document:
    """A document listed without its text (`load_corpus(texts=False)`), read again.

    A file changed since it was listed is taken as it is now, under the listed hash:
    the next ingest sees the new hash and indexes it again. CorpusError when it can no
    longer be read.
    """
    if doc.text or doc.path is None:
        return doc
    cache = ConversionCache(cache_dir) if cache_dir else None
    try:
        again = read_document(doc.path, doc.source, doc.doc_id, cache)
    except (OSError, ValueError) as exc:
        raise CorpusError(
            f"{doc.source} changed while it was being indexed and can no longer be read "
            f"({exc}) — run ingest again"
        ) from exc
    if again.content_hash != doc.content_hash:
        log.info(
            "%s changed while it was being indexed: the next ingest indexes it again", doc.source
        )
    return replace(again, content_hash=doc.content_hash)


def _corpus_files(corpus_dir: Path, report: CorpusReport) -> list[tuple[Path, str, Path]]:
    """(path, corpus-relative source, real path) of each article file, sorted by path.

    Links to folders are not followed; links to files count only when they resolve
    inside the corpus. Hidden files (.gitkeep, editor swap files) are passed over.
    """
    root = corpus_dir.resolve()
    found = []
    for folder, dirs, names in os.walk(corpus_dir):
        here = Path(folder)
        for name in sorted(dirs):
            if (here / name).is_symlink() and not name.startswith("."):
                _skip(report, (here / name).relative_to(corpus_dir).as_posix(), _LINKED_FOLDER)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not (here / d).is_symlink())
        for name in names:
            path = here / name
            source = path.relative_to(corpus_dir).as_posix()
            if name.startswith("."):
                continue
            real = path.resolve()
            if not real.is_relative_to(root):
                _skip(report, source, "a link to a file outside the corpus folder")
            elif not real.is_file():
                _skip(report, source, "not a regular file")
            elif path.suffix.lower() not in SUFFIXES:
                _skip(report, source, f"not an article file ({KINDS})")
            else:
                found.append((path, source, real))
    return sorted(found)


_LINKED_FOLDER = "a link to a folder (not followed)"


def _skip(report: CorpusReport, source: str, reason: str) -> None:
    report.skipped.append((source, reason))
    log.warning("skipped %s: %s", source, reason)
