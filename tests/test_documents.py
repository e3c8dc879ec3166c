"""Web pages, PDFs and Word files in the corpus; `careerqa add`; POST /documents; hostile input."""

import http.server
import io
import threading
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from fpdf import FPDF
from PIL import Image

from careerqa import converting
from careerqa.app import create_app
from careerqa.assistant import Assistant
from careerqa.cli import cli
from careerqa.corpus import load_corpus
from careerqa.ingest import ingest
from careerqa.settings import Settings

from .builders import PAGE, make_docx, make_pdf, pdf_bomb
from .conftest import started

# --- conversion -----------------------------------------------------------------------------


def test_a_web_page_keeps_its_content_headings_lists_and_metadata_only():
    page = converting.convert(".html", PAGE)
    assert page.title == "How to Become a Data Analyst"
    assert page.url == "https://example.org/careers/data-analyst"
    lines = page.text.splitlines()
    assert "## Tools analysts use" in lines and "- SQL for querying databases" in lines
    assert "Level: Lead; Salary: $97,000." in lines  # a table row reads as a sentence
    for debris in ("Home", "cookies", "Great post", "Leave a reply", "Copyright"):
        assert debris not in page.text


def test_a_pdf_keeps_pages_headings_from_font_size_and_whole_paragraphs():
    pdf = converting.convert(".pdf", make_pdf())
    assert pdf.title == "Robotics Engineer Handbook"
    lines = [line for line in pdf.text.splitlines() if line]
    assert lines[:2] == ["<!-- page 1 -->", "# Robotics Engineer Handbook"]
    assert "<!-- page 2 -->" in lines and "## Licensing" in lines
    licensing = lines[lines.index("## Licensing") + 1]
    assert licensing.startswith("Robotics engineers in Germany need no licence to practise")
    assert licensing.endswith("first three years of work.")  # wrapped lines joined


def test_a_word_file_keeps_headings_lists_and_tables():
    document = converting.convert(".docx", make_docx())
    assert document.title == "Nursing Informatics Guide"
    assert document.text.splitlines() == [
        "# Nursing Informatics Guide",
        "Nursing informatics specialists connect clinical work and IT.",
        "## Certification",
        "The informatics certificate exam takes three hours and costs $395 for members.",
        "- Clinical documentation systems",
        "- Patient data privacy",
        "Role: Analyst; Typical pay: $81,000.",
        "Role: Director; Typical pay: $128,000.",
    ]


def test_scanned_pages_are_reported_by_name(tmp_path):
    (tmp_path / "handbook.pdf").write_bytes(make_pdf(scanned_page=True))
    only_scans = FPDF()
    only_scans.add_page()
    only_scans.image(Image.new("RGB", (50, 50), "white"), x=10, y=10, w=50)
    (tmp_path / "scan.pdf").write_bytes(bytes(only_scans.output()))
    report = load_corpus(tmp_path)
    assert [d.source for d in report.documents] == ["handbook.pdf"]
    assert report.warnings == [("handbook.pdf", "no text on page(s) 4 (scanned? run OCR)")]
    assert "no text layer on any page" in dict(report.skipped)["scan.pdf"]


@pytest.mark.parametrize(
    ("name", "make", "reason"),
    [
        ("bomb.pdf", lambda: pdf_bomb(), "inflates past the decompression limit"),
        ("garbage.pdf", lambda: b"%PDF-1.4\n" + bytes(range(256)) * 100, "not a readable PDF"),
        (
            "nested.html",
            lambda: b"<html><body>" + b"<div>" * 10**6 + b"<p>deep</p>" + b"</div>" * 10**6,
            "no main content",
        ),
        ("broken.docx", lambda: b"PK\x03\x04 not really a zip", "not a Word document"),
    ],
)
def test_hostile_files_are_refused_by_name_and_the_rest_indexed(tmp_path, name, make, reason):
    (tmp_path / name).write_bytes(make())
    (tmp_path / "ok.md").write_text("# Fine\n\nA normal article about careers in data.\n")
    report = load_corpus(tmp_path)
    assert [d.source for d in report.documents] == ["ok.md"]
    assert reason in dict(report.skipped)[name]


def test_oversized_files_and_zip_bombs_are_refused_before_they_are_read(tmp_path, monkeypatch):
    with open(tmp_path / "huge.pdf", "wb") as sparse:  # 100 MB, written in no time
        sparse.truncate(100 * 2**20)
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w", compression=8) as bomb:
        bomb.writestr("word/document.xml", b"<w/>" * (60 * 2**20))
    (tmp_path / "bomb.docx").write_bytes(package.getvalue())
    monkeypatch.setattr(converting, "MAX_UNZIPPED", 100 * 2**20)
    reads = []
    real = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda p: reads.append(p.name) or real(p))
    report = load_corpus(tmp_path)
    reasons = dict(report.skipped)
    assert reasons["huge.pdf"] == "100 MB, more than the 50 MB limit"
    assert "huge.pdf" not in reads
    assert "zip bomb" in reasons["bomb.docx"]


# --- a corpus of every format ---------------------------------------------------------------


@pytest.fixture(scope="module")
def mixed(tmp_path_factory, real_embedder):
    root = tmp_path_factory.mktemp("mixed")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "analyst.html").write_bytes(PAGE)
    (corpus / "robotics.pdf").write_bytes(make_pdf())
    (corpus / "nursing.docx").write_bytes(make_docx())
    (corpus / "teacher.md").write_text(
        "# Becoming a Teacher\n\nTeachers in Finland need a master's degree in education.\n"
    )
    settings = Settings(
        corpus_dir=corpus, index_dir=root / "index", data_dir=root / "data", admin_token="adm"
    )
    ingest(settings, real_embedder)
    return settings


@pytest.mark.parametrize(
    ("question", "expected", "source", "page"),
    [
        ("Which tools do data analysts use?", "SQL for querying databases", "analyst.html", None),
        ("Do robotics engineers in Germany need a licence?", "no licence", "robotics.pdf", 2),
        ("How many hours a week do robotics engineers work?", "forty hours", "robotics.pdf", 3),
        ("How much does the informatics certificate exam cost?", "$395", "nursing.docx", None),
        ("What degree do teachers in Finland need?", "master's degree", "teacher.md", None),
    ],
)
def test_each_format_answers_with_citations_that_open_at_the_right_place(
    mixed, real_embedder, question, expected, source, page
):
    assistant = Assistant.from_data(
        mixed,
        real_embedder,
        ingest(mixed, real_embedder).data,  # up to date: nothing embedded
    )
    answer = assistant.ask_sync(question)
    assert answer.answered and expected in answer.answer
    cited = answer.citations[0]
    assert cited.source == source and cited.page == page
    text = assistant.data.documents[cited.doc_id].text
    assert text[cited.start : cited.end] == cited.text


def test_the_source_view_of_a_pdf_shows_its_pages(mixed, real_embedder):
    with started(create_app(mixed, real_embedder)) as client:
        answer = client.post("/ask", json={"question": "Do robotics engineers need a licence?"})
        cited = answer.json()["citations"][0]
        page = client.get(cited["url"].split("#")[0])
    assert cited["page"] == 2
    assert '<p class="page" id="page-2">Page 2</p>' in page.text
    assert page.text.index("Page 2") < page.text.index('<mark id="passage">')


def test_a_changed_file_re_embeds_only_itself_and_unchanged_files_are_not_converted(
    tmp_path, fake, monkeypatch
):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.docx").write_bytes(make_docx())
    (corpus / "b.pdf").write_bytes(make_pdf())
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index", model="fake")
    ingest(settings, fake)
    calls = []
    real = converting.CONVERTERS.copy()
    for suffix, function in real.items():
        monkeypatch.setitem(
            converting.CONVERTERS,
            suffix,
            lambda raw, f=function, s=suffix: calls.append(s) or f(raw),
        )
    (corpus / "b.pdf").write_bytes(make_pdf(scanned_page=True))
    report = ingest(settings, fake)
    assert report.changed == ["b"] and report.unchanged == ["a"]
    assert calls == [".pdf"]  # the unchanged .docx came from the conversion cache


# --- careerqa add, POST /documents ----------------------------------------------------------


class _Pages(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the http.server API
        if self.path == "/loop":
            self.send_response(302)
            self.send_header("Location", "/loop")
            self.end_headers()
            return
        body, kind = {
            "/analyst": (PAGE, "text/html; charset=utf-8"),
            "/handbook": (make_pdf(), "application/pdf"),
        }.get(self.path, (b"", ""))
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", kind or "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_add_saves_pages_and_files_as_markdown_and_answers_from_them_at_once(
    tmp_path, site, monkeypatch
):
    corpus = tmp_path / "corpus"
    monkeypatch.setenv("CAREERQA_CORPUS_DIR", str(corpus))
    monkeypatch.setenv("CAREERQA_INDEX_DIR", str(tmp_path / "index"))
    (tmp_path / "nursing.docx").write_bytes(make_docx())
    runner = CliRunner()
    result = runner.invoke(
        cli,
        [
            "add",
            f"{site}/analyst",
            str(tmp_path / "nursing.docx"),
            f"{site}/loop",
            "file:///etc/passwd",
            f"{site}/missing",
        ],
    )
    assert result.exit_code == 1  # three failed, by name; the two others were added
    assert "added " + str(corpus / "how-to-become-a-data-analyst.md") in result.output
    assert "added " + str(corpus / "nursing-informatics-guide.md") in result.output
    assert f"not added {site}/loop: more than 5 redirects" in result.output
    assert "not added file:///etc/passwd: only http and https URLs" in result.output
    assert f"not added {site}/missing: {site}/missing answered 404" in result.output
    saved = (corpus / "how-to-become-a-data-analyst.md").read_text()
    assert saved.startswith(
        "---\ntitle: How to Become a Data Analyst\n"
        "url: https://example.org/careers/data-analyst\nfetched: "
    )
    assert "- SQL for querying databases" in saved
    assert "2 added" in result.output  # the index was updated
    asked = runner.invoke(cli, ["ask", "How much do junior data analysts in Canada earn?"])
    assert "$58,000" in asked.output and "how-to-become-a-data-analyst.md" in asked.output
    again = runner.invoke(cli, ["add", f"{site}/analyst", "--no-index"])
    assert "replaced " in again.output and len(list(corpus.glob("*.md"))) == 2


def test_a_pdf_added_by_url_keeps_its_pages(tmp_path, site, monkeypatch, real_embedder):
    corpus = tmp_path / "corpus"
    monkeypatch.setenv("CAREERQA_CORPUS_DIR", str(corpus))
    monkeypatch.setenv("CAREERQA_INDEX_DIR", str(tmp_path / "index"))
    result = CliRunner().invoke(cli, ["add", f"{site}/handbook", "--no-index"])
    assert result.exit_code == 0, result.output
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index")
    assistant = Assistant.from_data(settings, real_embedder, ingest(settings, real_embedder).data)
    answer = assistant.ask_sync("How many hours a week do robotics engineers work?")
    assert "forty hours" in answer.answer and answer.citations[0].page == 3


@pytest.fixture
def admin_app(tmp_path, real_embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "teacher.md").write_text("# Teachers\n\nTeachers in Finland need a master's.\n")

    def make(**settings):
        values = {"corpus_dir": corpus, "index_dir": tmp_path / "index", "admin_token": "adm"}
        return create_app(Settings(**{**values, **settings}), real_embedder)

    return make


ADMIN = {"Authorization": "Bearer adm"}


def test_post_documents_refuses_internal_addresses_unless_allowed(admin_app, site):
    with started(admin_app()) as client:
        refused = client.post("/documents", json={"url": f"{site}/analyst"}, headers=ADMIN)
        local_file = client.post("/documents", json={"url": "file:///etc/passwd"}, headers=ADMIN)
        no_token = client.post("/documents", json={"url": f"{site}/analyst"})
    assert refused.status_code == 403
    assert "resolves to 127.0.0.1, a loopback address" in refused.json()["detail"]
    assert local_file.status_code == 403 and no_token.status_code == 401
    with started(admin_app(fetch_allow="127.0.0.1")) as client:
        added = client.post("/documents", json={"url": f"{site}/analyst"}, headers=ADMIN)
        asked = client.post("/ask", json={"question": "What do junior data analysts earn?"})
    assert added.status_code == 201, added.text
    body = added.json()
    assert body["path"] == "how-to-become-a-data-analyst.md" and body["replaced"] is False
    assert body["index"]["added"] == ["how-to-become-a-data-analyst"]
    assert "$58,000" in asked.json()["answer"]


def test_post_documents_takes_an_uploaded_file(admin_app):
    with started(admin_app()) as client:
        added = client.post(
            "/documents", files={"file": ("nursing.docx", make_docx())}, headers=ADMIN
        )
        asked = client.post("/ask", json={"question": "What does the informatics exam cost?"})
        wrong = client.post(
            "/documents",
            content=b"url=x",
            headers={**ADMIN, "Content-Type": "application/x-www-form-urlencoded"},
        )
        junk = client.post("/documents", files={"file": ("x.pdf", b"%PDF-1.4 junk")}, headers=ADMIN)
    assert added.status_code == 201 and added.json()["title"] == "Nursing Informatics Guide"
    assert "$395" in asked.json()["answer"]
    assert wrong.status_code == 415
    assert junk.status_code == 422 and "cannot convert x.pdf" in junk.json()["detail"]
