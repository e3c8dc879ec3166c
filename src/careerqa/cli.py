"""The `careerqa` command: parses options, calls the core, prints."""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from . import __version__
from .embedding import SentenceTransformerEmbedder
from .errors import CareerQAError
from .settings import Settings

if TYPE_CHECKING:
    from .adding import Added
    from .assistant import Assistant
    from .ingest import IngestReport
    from .schemas import AskResponse

log = logging.getLogger("careerqa")


def _setup_logging(verbose: int) -> None:
    level = logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(
        level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    # Library chatter (weight-loading bars, hub notices) says nothing a user needs.
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    for noisy in ("faiss", "bm25s", "sentence_transformers", "httpx", "pypdf", "trafilatura"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def _settings(ctx: click.Context) -> Settings:
    settings: Settings = ctx.obj["settings"]
    return settings


def _embedder(settings: Settings) -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder.from_settings(settings)


def _assistant(settings: Settings) -> Assistant:
    """An assistant over the index, brought up to date with the corpus first."""
    from .assistant import Assistant
    from .ingest import refresh_index

    embedder = _embedder(settings)
    return Assistant.from_data(settings, embedder, refresh_index(settings, embedder).data)


class _Group(click.Group):
    """Domain errors become one line on stderr and exit status 1, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CareerQAError as exc:
            click.echo(f"careerqa: error: {exc}", err=True)
            ctx.exit(1)
        except KeyboardInterrupt:
            click.echo("careerqa: interrupted", err=True)
            ctx.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--corpus-dir",
    type=click.Path(path_type=Path),
    help="Folder of articles [env CAREERQA_CORPUS_DIR; default corpus].",
)
@click.option(
    "--index-dir",
    type=click.Path(path_type=Path),
    help="Folder of the index [env CAREERQA_INDEX_DIR; default index].",
)
@click.option(
    "--model",
    help="Embedding model: sentence-transformers name or path "
    "[env CAREERQA_MODEL; default: the bundled all-MiniLM-L6-v2].",
)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    help="Folder of the feedback database [env CAREERQA_DATA_DIR; default data].",
)
@click.option("-v", "--verbose", count=True, help="Log what happens (-vv for more).")
@click.version_option(__version__, prog_name="careerqa")
@click.pass_context
def cli(
    ctx: click.Context,
    corpus_dir: Path | None,
    index_dir: Path | None,
    model: str | None,
    data_dir: Path | None,
    verbose: int,
) -> None:
    """Answer career questions from a folder of articles, citing the passages used.

    Settings come from these options, CAREERQA_* environment variables and a .env file.
    """
    _setup_logging(verbose)
    overrides = {
        k: v
        for k, v in {
            "corpus_dir": corpus_dir,
            "index_dir": index_dir,
            "model": model,
            "data_dir": data_dir,
        }.items()
        if v is not None
    }
    try:
        ctx.obj = {"settings": Settings(**overrides)}  # type: ignore[arg-type]
    except ValueError as exc:
        raise click.UsageError(f"invalid setting: {exc}") from exc


@cli.command()
@click.option("--full", is_flag=True, help="Re-embed every document, not only the changed ones.")
@click.option(
    "--wait",
    type=click.FloatRange(0),
    default=30.0,
    show_default=True,
    help="Seconds to wait when another rebuild holds the index lock.",
)
@click.pass_context
def ingest(ctx: click.Context, full: bool, wait: float) -> None:
    """Build or update the index from the corpus folder.

    Only documents whose content (or the model or chunking settings) changed are
    embedded again; removed documents are dropped. Prints what it did.
    """
    from .ingest import ingest as run_ingest

    settings = _settings(ctx)
    _print_ingest(run_ingest(settings, _embedder(settings), full=full, lock_wait=wait), settings)


_LISTED = 50  # documents named per kind of change; a large corpus gets a count for the rest


def _print_ingest(report: IngestReport, settings: Settings) -> None:
    for source, reason in report.skipped:
        click.echo(f"skipped {source}: {reason}", err=True)
    for source, problem in report.warnings:
        click.echo(f"warning {source}: {problem}", err=True)
    if report.full and report.reason:
        click.echo(f"full build: {report.reason}")
    for label, ids in (
        ("added", report.added),
        ("changed", report.changed),
        ("removed", report.removed),
    ):
        for doc_id in ids[:_LISTED]:
            click.echo(f"{label:>9} {doc_id}")
        if len(ids) > _LISTED:
            click.echo(f"{label:>9} … and {len(ids) - _LISTED:,} more")
    click.echo(report.summary())
    if not report.did_change:
        click.echo(f"index in {settings.index_dir} is up to date")


def _print_answer(response: AskResponse) -> None:
    click.echo(response.answer)
    if response.citations:
        click.echo()
    for c in response.citations:
        where = c.title + (f" — {c.heading}" if c.heading else "")
        page = f"p. {c.page}, " if c.page else ""
        click.echo(f"[{c.n}] {where} ({c.source}, {page}chars {c.start}-{c.end})")


@cli.command()
@click.argument("sources", nargs=-1, required=True, metavar="URL|FILE...")
@click.option("--no-index", is_flag=True, help="Only save into the corpus; don't update the index.")
@click.pass_context
def add(ctx: click.Context, sources: tuple[str, ...], no_index: bool) -> None:
    """Add web pages (http/https URLs) or files (.html, .pdf, .docx, .txt, .md) to the corpus.

    Each is converted and saved into the corpus folder as Markdown with front matter
    (title, url, date), so it can be read and edited there; the index is then
    updated. A URL or file name added again replaces its earlier file. Sources that
    fail are reported by name and the rest are added; the exit status is then 1.
    """
    from .ingest import ingest as run_ingest

    settings = _settings(ctx)
    failed = 0
    for source in sources:
        try:
            added = _add_one(settings, source)
        except CareerQAError as exc:
            failed += 1
            click.echo(f"not added {source}: {exc}", err=True)
            continue
        verb = "replaced" if added.replaced else "added"
        click.echo(f"{verb} {added.path} ({added.title})")
    if failed < len(sources) and not no_index:
        _print_ingest(run_ingest(settings, _embedder(settings)), settings)
    if failed:
        ctx.exit(1)


def _add_one(settings: Settings, source: str) -> Added:
    from .adding import add_file, add_page
    from .converting import MAX_BYTES
    from .errors import DocumentError
    from .fetching import fetch

    if "://" in source:
        return add_page(settings.corpus_dir, fetch(source, timeout=settings.fetch_timeout), source)
    path = Path(source)
    try:
        if path.stat().st_size > MAX_BYTES:
            raise DocumentError(f"over the {MAX_BYTES // 2**20} MB limit")
        body = path.read_bytes()
    except OSError as exc:
        raise DocumentError(exc.strerror or str(exc)) from None
    return add_file(settings.corpus_dir, path.name, body)


@cli.command()
@click.argument("question")
@click.option(
    "--top-k",
    type=click.IntRange(1, 20),
    default=None,
    help="Passages to retrieve (1-20, default 5).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the /ask response object as JSON.")
@click.pass_context
def ask(ctx: click.Context, question: str, top_k: int | None, as_json: bool) -> None:
    """Answer QUESTION with cited passages; `-` reads one question a line from stdin.

    With `-`, each line's answer is written as one JSON object a line, and the
    model is loaded once. The index is built first when there is none.
    """
    from .schemas import AskResponse

    assistant = _assistant(_settings(ctx))
    if question != "-":
        response = AskResponse.from_answer(assistant.ask_sync(question, top_k))
        if as_json:
            click.echo(response.model_dump_json())
        else:
            _print_answer(response)
        return
    failures = 0
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            click.echo(AskResponse.from_answer(assistant.ask_sync(line, top_k)).model_dump_json())
        except CareerQAError as exc:
            failures += 1
            error = {"question": line.strip(), "error": str(exc)}
            click.echo(json.dumps(error, ensure_ascii=False, separators=(",", ":")))
    if failures:
        ctx.exit(1)


@cli.command(name="eval")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--top-k", type=click.IntRange(1, 20), default=None, help="Passages to retrieve (default 5)."
)
@click.option(
    "--cv",
    "folds",
    type=click.IntRange(2, 20),
    default=None,
    help="Also choose the abstain threshold by k-fold cross-validation over all the FILES "
    "together and report the out-of-fold figures.",
)
@click.option(
    "--stores",
    type=click.Choice(["embedded", "milvus"]),
    multiple=True,
    help="Score each FILE with each of these search stores and print their metrics side by "
    "side (repeat: --stores embedded --stores milvus; milvus needs careerqa[milvus]).",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print metrics and per-question rows as JSON."
)
@click.pass_context
def evaluate(
    ctx: click.Context,
    files: tuple[Path, ...],
    top_k: int | None,
    folds: int | None,
    stores: tuple[str, ...],
    as_json: bool,
) -> None:
    """Score answers on question sets (JSON lines with id, question and answers).

    For each FILE: one line a question (ok or MISS, its shape, the rank of the first
    matching passage, the evidence), the metrics, and answer accuracy by question shape.
    """
    from .evaluation import at_threshold, by_shape, cross_validate, load_questions, metrics
    from .evaluation import evaluate as run_eval

    settings = _settings(ctx)
    if stores:
        _compare_stores(settings, files, stores, top_k, as_json)
        return
    # With --cv every question is answered once and the threshold applied afterwards:
    # it decides whether an answer is given, never what it is.
    threshold = settings.abstain_threshold
    ask_settings = settings.model_copy(update={"abstain_threshold": -10.0}) if folds else settings
    assistant = _assistant(ask_settings)
    pooled, every = [], []  # at the configured threshold; every question answered
    report: dict[str, Any] = {}
    for file in files:
        _, answered = run_eval(load_questions(file), lambda q: assistant.ask_sync(q, top_k))
        rows = at_threshold(answered, threshold) if folds else answered
        pooled.extend(rows)
        every.extend(answered)
        report[str(file)] = {"metrics": metrics(rows), "by_shape": by_shape(rows), "rows": rows}
    if folds:
        # A fold may choose a threshold below the configured one: it needs the answers
        # the configured threshold would decline.
        cv = cross_validate(every, folds)
        report["cross_validation"] = {"folds": folds, "thresholds": cv.thresholds, **cv.metrics}
    if as_json:
        for part in report.values():
            if "rows" in part:
                part["rows"] = [asdict(r) for r in part["rows"]]
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    for file in files:
        _print_eval(str(file), report[str(file)])
    if folds:
        _print_cv(report["cross_validation"], threshold, metrics(pooled))


def _compare_stores(
    settings: Settings,
    files: tuple[Path, ...],
    stores: tuple[str, ...],
    top_k: int | None,
    as_json: bool,
) -> None:
    """Each FILE's metrics with each store, in one table (a store lacking the build gets it)."""
    from .evaluation import evaluate as run_eval
    from .evaluation import load_questions

    names = list(dict.fromkeys(stores))  # each store once, in the order given
    table: dict[str, dict[str, dict[str, float]]] = {}
    for store in names:
        assistant = _assistant(settings.model_copy(update={"store": store}))
        for file in files:
            ask = functools.partial(assistant.ask_sync, top_k=top_k)
            found, _ = run_eval(load_questions(file), ask)
            table.setdefault(str(file), {})[store] = found
    if as_json:
        click.echo(json.dumps(table, indent=2))
        return
    click.echo(f"{'set':<24} {'metric':<20} " + " ".join(f"{n:>10}" for n in names) + "  max |Δ|")
    for name, by_store in table.items():
        for key in next(iter(by_store.values())):
            if key == "questions":
                continue
            values = [by_store[n][key] for n in names]
            cells = " ".join(f"{v:>10.4f}" for v in values)
            click.echo(f"{Path(name).name:<24} {key:<20} {cells}  {max(values) - min(values):.4f}")


def _print_eval(name: str, part: dict[str, Any]) -> None:
    click.echo(f"== {name}")
    for row in part["rows"]:
        ok = "ok " if row.ok else "MISS"
        rank = f"rank={row.first_match_rank!s:<4}"
        click.echo(
            f"{ok} {row.id:<8} {row.shape:<10} {rank} evidence={row.evidence:.3f}  {row.question}"
        )
    click.echo()
    for key, value in part["metrics"].items():
        click.echo(f"{key:<20} {value:g}")
    click.echo(
        "by shape: "
        + "; ".join(
            f"{shape} {int(m['questions'])} (answer {m['answer_accuracy']:g}, "
            f"abstain {m['abstain_accuracy']:g})"
            for shape, m in part["by_shape"].items()
        )
    )
    click.echo()


def _print_cv(cv: dict[str, Any], threshold: float, configured: dict[str, float]) -> None:
    click.echo(f"== cross-validation over all sets, {cv['folds']} folds")
    click.echo("thresholds chosen per fold: " + ", ".join(f"{t:g}" for t in cv["thresholds"]))
    click.echo(f"{'metric':<20} {'out-of-fold':>12} {f'at {threshold:g}':>12}")
    for key in ("answer_accuracy", "citation_accuracy", "abstain_accuracy", "false_abstain_rate"):
        click.echo(f"{key:<20} {cv[key]:>12g} {configured[key]:>12g}")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--watch", is_flag=True, help="Rebuild by itself when corpus files change.")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Server processes sharing the port; each loads the model once and maps the "
    "index's vectors from disk (README, 'Running at scale').",
)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, watch: bool, workers: int) -> None:
    """Serve the chat page and the JSON API (POST /ask) with uvicorn.

    Builds the index when missing or stale, loads it once, and swaps in new builds
    made by `careerqa ingest`, POST /reindex (bearer token from
    CAREERQA_ADMIN_TOKEN) or --watch, without failing requests in flight.
    """
    from .app import create_app
    from .milvus import is_lite, uri_of
    from .server import bind, serve_workers
    from .server import serve as run_server

    settings = _settings(ctx)
    logging.getLogger("careerqa").setLevel(min(logging.getLogger().level, logging.INFO))
    if workers > 1 and settings.store == "milvus" and is_lite(uri_of(settings)):
        raise CareerQAError(
            "a Milvus Lite file serves one process: with --workers, set CAREERQA_MILVUS_URI "
            "to a Milvus server (http://host:19530)"
        )
    sock = bind(host, port)  # a busy port is one line, before anything else starts
    if workers > 1:
        click.echo(f"careerqa: serving on http://{host}:{port}/ with {workers} workers", err=True)
        serve_workers(sock, settings, workers, watch)
        return
    app = create_app(settings, watch=watch)
    click.echo(f"careerqa: serving on http://{host}:{port}/ (API docs at /docs)", err=True)
    run_server(app, sock, settings)


@cli.group()
def feedback() -> None:
    """Feedback people gave on answers in the chat page (POST /feedback)."""


@feedback.command(name="export")
@click.option(
    "--since",
    type=click.IntRange(0, 2**63 - 1),
    default=0,
    show_default=True,
    help="Only marks with a larger id (the ids are in the exported lines).",
)
@click.option(
    "-o",
    "--output",
    type=click.File("w", encoding="utf-8"),
    default="-",
    help="File to write (default: standard output).",
)
@click.pass_context
def feedback_export(ctx: click.Context, since: int, output: Any) -> None:
    """Print 👎 and "doesn't support it" marks as question-set lines for review.

    One JSON line a mark, in the format `careerqa eval` reads: `id`, `question`,
    `sources` and `answers`, with what was answered and cited under `feedback`.
    `answers` is empty, which asks that the question be declined: write in it a
    string a correct passage contains (and the files in `sources`), or keep it empty
    when the articles don't cover the question, then add the line to a question set.
    Reads CAREERQA_DATA_DIR (default data/).
    """
    from .feedback import FeedbackStore, export_lines

    settings = _settings(ctx)
    rows = FeedbackStore(settings.data_dir).rows(("down", "unsupported"), since)
    for line in export_lines(rows):
        output.write(json.dumps(line, ensure_ascii=False) + "\n")
    last = f"; the last id is {rows[-1].id}" if rows else ""
    marks = "mark" if len(rows) == 1 else "marks"
    click.echo(f"exported {len(rows)} {marks} from {settings.data_dir}{last}", err=True)


def main() -> None:
    cli(prog_name="careerqa")
