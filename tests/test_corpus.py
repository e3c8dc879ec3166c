"""Loading: front matter, skipped files with reasons, clear errors."""

import logging

import pytest

from careerqa.corpus import load_corpus, parse_front_matter, with_text
from careerqa.errors import CorpusError


def test_reads_txt_and_md_with_front_matter(corpus_dir):
    report = load_corpus(corpus_dir)
    by_id = {d.doc_id: d for d in report.documents}
    assert set(by_id) == {"portfolio", "salaries", "skills"}
    assert by_id["salaries"].title == "Data Engineer Salaries"
    assert by_id["salaries"].url == "https://example.org/salaries"
    assert not by_id["salaries"].text.startswith("---")
    # No front matter: the first line that reads like a title, never a date.
    assert by_id["skills"].title == "Skills Every Data Engineer Needs"


def test_skips_unreadable_and_other_files_with_a_warning(corpus_dir, caplog):
    (corpus_dir / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    with caplog.at_level(logging.WARNING):
        report = load_corpus(corpus_dir)
    reasons = dict(report.skipped)
    assert reasons["notes.pdf"].startswith("not a readable PDF")  # text named .pdf
    assert reasons["photo.jpg"] == "not an article file (.txt, .md, .html, .htm, .pdf or .docx)"
    assert "notes.pdf" in caplog.text and "photo.jpg" in caplog.text


def test_reports_undecodable_and_empty_files_by_name_and_keeps_the_rest(corpus_dir):
    (corpus_dir / "latin1.txt").write_bytes("caf\xe9 cr\xe8me".encode("latin-1"))
    (corpus_dir / "empty.md").write_text("  \n\n")
    report = load_corpus(corpus_dir)
    reasons = dict(report.skipped)
    assert "not UTF-8" in reasons["latin1.txt"]
    assert reasons["empty.md"] == "empty file"
    assert len(report.documents) == 3


def test_missing_corpus_folder_is_a_clear_error(tmp_path):
    with pytest.raises(CorpusError, match="does not exist"):
        load_corpus(tmp_path / "nope")


def test_front_matter_is_optional():
    assert parse_front_matter("no front matter\n") == ({}, "no front matter\n")
    meta, body = parse_front_matter("---\ntitle: A: B\nurl: 'x'\n---\nbody")
    assert meta == {"title": "A: B", "url": "x"} and body == "body"


def test_links_out_of_the_corpus_are_skipped_by_name(corpus_dir, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "more.md").write_text("# Secret notes\n\nNot for the corpus.\n")
    (corpus_dir / "passwd.txt").symlink_to(secret)
    (corpus_dir / "notes.md").symlink_to(outside / "more.md")
    (corpus_dir / "folder").symlink_to(outside, target_is_directory=True)
    (corpus_dir / "alias.txt").symlink_to(corpus_dir / "skills.txt")  # inside: fine
    report = load_corpus(corpus_dir)
    reasons = dict(report.skipped)
    assert reasons["passwd.txt"] == "a link to a file outside the corpus folder"
    assert reasons["notes.md"] == "a link to a file outside the corpus folder"
    assert reasons["folder"] == "a link to a folder (not followed)"
    texts = " ".join(d.text for d in report.documents)
    assert "root:x" not in texts and "Secret notes" not in texts
    assert {"alias", "skills"} <= {d.doc_id for d in report.documents}


def test_a_listing_without_texts_reads_each_text_again_when_asked(corpus_dir, tmp_path):
    full = {d.doc_id: d for d in load_corpus(corpus_dir, tmp_path / "cache").documents}
    listed = load_corpus(corpus_dir, tmp_path / "cache", texts=False).documents
    assert listed and all(d.text == "" for d in listed)
    assert {d.doc_id: with_text(d, tmp_path / "cache") for d in listed} == full


def test_a_file_changed_or_removed_after_listing_is_read_as_it_is_now(corpus_dir):
    listed = {d.doc_id: d for d in load_corpus(corpus_dir, texts=False).documents}
    (corpus_dir / "portfolio.txt").write_text("Portfolios, rewritten since the listing.\n")
    again = with_text(listed["portfolio"])
    assert again.text.startswith("Portfolios, rewritten")
    assert again.content_hash == listed["portfolio"].content_hash  # the next ingest sees it
    (corpus_dir / "portfolio.txt").unlink()
    with pytest.raises(CorpusError, match="portfolio.txt changed while it was being indexed"):
        with_text(listed["portfolio"])
