"""The command line end to end: real model, tiny corpus, CliRunner."""

import json

import pytest
from click.testing import CliRunner

from careerqa.cli import cli

from .conftest import ANSWER_FIELDS, CITATION_FIELDS


@pytest.fixture
def run(tmp_path, corpus_dir, monkeypatch):
    monkeypatch.setenv("CAREERQA_CORPUS_DIR", str(corpus_dir))
    monkeypatch.setenv("CAREERQA_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.delenv("CAREERQA_MODEL", raising=False)
    runner = CliRunner()

    def invoke(*args, input=None):
        return runner.invoke(cli, list(args), input=input, catch_exceptions=False)

    return invoke


def test_ingest_reports_what_it_did(run):
    first = run("ingest")
    assert first.exit_code == 0, first.output
    assert "3 added, 0 changed, 0 removed, 0 unchanged" in first.output
    assert "skipped notes.pdf" in first.output
    again = run("ingest")
    assert "0 added, 0 changed, 0 removed, 3 unchanged; 0 chunks embedded" in again.output
    assert "up to date" in again.output
    full = run("ingest", "--full")
    assert "full build: --full asked" in full.output


def test_ask_builds_the_index_when_missing_and_prints_json(run):
    result = run("ask", "How much do junior data engineers earn?", "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert set(payload) == ANSWER_FIELDS
    assert payload["answered"] and "$60,000 and $75,000" in payload["answer"]
    citation = payload["citations"][0]
    assert set(citation) == CITATION_FIELDS
    assert citation["doc_id"] == "salaries" and citation["title"] == "Data Engineer Salaries"


def test_ask_plain_text_lists_sources(run):
    result = run("ask", "Which cloud platforms do pipelines run on?", "--top-k", "2")
    assert result.exit_code == 0
    assert "[1]" in result.output and "Skills Every Data Engineer Needs" in result.output


def test_ask_stdin_writes_one_json_object_a_line(run):
    result = run(
        "ask", "-", input="How much do junior data engineers earn?\n\nHow do I bake bread?\n"
    )
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [line["answered"] for line in lines] == [True, False]


def test_eval_prints_metrics(run, tmp_path, monkeypatch):
    qs = tmp_path / "q.jsonl"
    qs.write_text(
        json.dumps(
            {
                "id": "a",
                "question": "How much do junior data engineers earn?",
                "answers": ["$60,000"],
            }
        )
        + "\n"
        + json.dumps({"id": "b", "question": "What is the capital of France?", "answers": []})
        + "\n"
    )
    result = run("eval", str(qs), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)[str(qs)]
    assert report["metrics"]["hit@1"] == 1.0 and report["metrics"]["abstain_accuracy"] == 1.0
    assert {r["id"]: r["shape"] for r in report["rows"]} == {"a": "figure", "b": "other"}
    text = run("eval", str(qs), str(qs), "--cv", "2")
    assert text.exit_code == 0, text.output
    assert "cross-validation over all sets, 2 folds" in text.output
    assert "out-of-fold" in text.output and text.output.count(f"== {qs}") == 2
    # The folds choose their own threshold, below the configured one if they like.
    monkeypatch.setenv("CAREERQA_ABSTAIN_THRESHOLD", "0.99")
    strict = json.loads(run("eval", str(qs), str(qs), "--cv", "2", "--json").output)
    assert strict[str(qs)]["metrics"]["answer_accuracy"] == 0.0  # all declined at 0.99
    assert strict["cross_validation"]["answer_accuracy"] == 1.0


def test_eval_compares_the_stores_side_by_side(run, tmp_path):
    pytest.importorskip("pymilvus")
    qs = tmp_path / "q.jsonl"
    question = {"id": "a", "question": "How much do junior data engineers earn?"}
    qs.write_text(json.dumps({**question, "answers": ["$60,000"]}) + "\n")
    result = run("eval", str(qs), "--stores", "embedded", "--stores", "milvus", "--json")
    assert result.exit_code == 0, result.output
    by_store = json.loads(result.output)[str(qs)]
    assert by_store["embedded"] == by_store["milvus"] and by_store["milvus"]["hit@1"] == 1.0
    table = run("eval", str(qs), "--stores", "embedded", "--stores", "milvus").output
    assert "embedded" in table.splitlines()[0] and "milvus" in table.splitlines()[0]
    assert "q.jsonl" in table and "hit@3" in table and "max |Δ|" in table


def test_errors_are_one_line_and_non_zero(run, tmp_path, monkeypatch):
    empty = run("ask", "   ")
    assert empty.exit_code == 1
    assert empty.output.strip() == "careerqa: error: question is empty"
    monkeypatch.setenv("CAREERQA_CORPUS_DIR", str(tmp_path / "missing"))
    missing = run("ingest")
    assert missing.exit_code == 1
    assert "corpus folder" in missing.output and "Traceback" not in missing.output
    bad_k = run("ask", "hi", "--top-k", "99")
    assert bad_k.exit_code == 2 and "Traceback" not in bad_k.output


def test_help_texts():
    runner = CliRunner()
    for args in ([], ["ingest"], ["ask"], ["eval"]):
        result = runner.invoke(cli, [*args, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output
