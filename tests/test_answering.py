"""End to end with the real bundled model on the shipped corpus: answers, citations, eval."""

import re

import pytest

from careerqa.assistant import Assistant
from careerqa.conversation import Turn
from careerqa.errors import QuestionError
from careerqa.evaluation import evaluate, load_questions
from careerqa.ingest import ingest
from careerqa.query import validate_question
from careerqa.settings import Settings

from .conftest import REPO


@pytest.fixture(scope="module")
def assistant(tmp_path_factory, real_embedder) -> Assistant:
    settings = Settings(corpus_dir=REPO / "corpus", index_dir=tmp_path_factory.mktemp("index"))
    return Assistant.from_data(settings, real_embedder, ingest(settings, real_embedder).data)


def test_answer_sentences_are_copied_from_the_passages_they_cite(assistant):
    answer = assistant.ask_sync("What salary can an entry-level machine learning engineer expect?")
    assert answer.answered
    assert "$70,000 and $90,000" in answer.answer
    assert [c.n for c in answer.citations] == list(range(1, 6))
    parts = re.findall(r"(.+?) \[(\d+)\]", answer.answer)
    assert 1 <= len(parts) <= 4
    for sentence, n in parts:
        passage = answer.citations[int(n) - 1].text
        assert " ".join(sentence.split()).rstrip(".")[-40:] in " ".join(passage.split())


def test_citations_point_at_exact_text(assistant):
    answer = assistant.ask_sync("Which clustering methods should I know?")
    for c in answer.citations:
        doc = assistant.data.documents[c.doc_id]
        assert doc.text[c.start : c.end] == c.text
        assert c.url == f"/sources/{c.doc_id}?start={c.start}&end={c.end}#passage"


def test_out_of_scope_question_is_declined_and_cites_nothing(assistant):
    answer = assistant.ask_sync("How do I bake sourdough bread?")
    assert not answer.answered
    assert "don't cover" in answer.answer
    assert answer.citations == [] and "[" not in answer.answer


def test_follow_up_uses_history(assistant):
    first = "What salary can an entry-level machine learning engineer expect?"
    earlier = assistant.ask_sync(first)
    history = [Turn("user", first), Turn("assistant", earlier.answer)]
    answer = assistant.ask_sync("and with experience?", history=history)
    assert answer.answered and "$120,000-$150,000" in answer.answer
    alone = assistant.ask_sync("and with experience?")
    assert "$120,000-$150,000" not in alone.answer


@pytest.mark.parametrize("bad", ["", "   ", "x" * 1001, "nul\x00byte"])
def test_bad_questions_are_refused(bad):
    with pytest.raises(QuestionError):
        validate_question(bad)


def test_odd_but_valid_questions_are_answered_or_declined_cleanly(assistant):
    for q in ["¿Cuánto gana un ingeniero?", "💰 salary?", '<b>skills</b> & "quotes"']:
        answer = assistant.ask_sync(q)
        assert answer.answer


# What each question set must keep scoring (README, "Evaluation"). dev and extra meet
# the targets (hit@3 >= 0.92, answer >= 0.88, citation >= 0.95, abstain >= 0.95,
# false abstain <= 0.05); dev2, tune and the fresh sets, written independently, do not
# yet, and are held to what the method reaches today so that no change makes them worse.
_TARGETS = {
    "hit@3": 0.92,
    "answer_accuracy": 0.88,
    "citation_accuracy": 0.95,
    "abstain_accuracy": 0.95,
    "false_abstain_rate": 0.05,
}
FLOORS = {
    "dev.jsonl": _TARGETS,
    "extra.jsonl": _TARGETS,
    "dev2.jsonl": {
        "hit@3": 0.87,
        "answer_accuracy": 0.85,
        "citation_accuracy": 0.9,
        "abstain_accuracy": 1.0,
        "false_abstain_rate": 0.07,
    },
    "tune.jsonl": {
        "hit@3": 0.96,
        "answer_accuracy": 0.92,
        "citation_accuracy": 0.96,
        "abstain_accuracy": 0.92,
        "false_abstain_rate": 0.0,
    },
    "fresh3.jsonl": {
        "hit@3": 0.95,
        "answer_accuracy": 0.83,
        "citation_accuracy": 0.91,
        "abstain_accuracy": 0.91,
        "false_abstain_rate": 0.0,
    },
    "fresh2.jsonl": {
        "hit@3": 0.87,
        "answer_accuracy": 0.89,
        "citation_accuracy": 0.91,
        "abstain_accuracy": 1.0,
        "false_abstain_rate": 0.0,
    },
    "fresh4.jsonl": {
        "hit@3": 0.91,
        "answer_accuracy": 0.84,
        "citation_accuracy": 0.86,
        "abstain_accuracy": 1.0,
        "false_abstain_rate": 0.0,
    },
    "fresh.jsonl": {
        "hit@3": 0.93,
        "answer_accuracy": 0.79,
        "citation_accuracy": 0.91,
        "abstain_accuracy": 0.83,
        "false_abstain_rate": 0.0,
    },
}


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_question_sets_hold_their_figures(assistant, name):
    metrics, _ = evaluate(load_questions(REPO / "eval" / name), lambda q: assistant.ask_sync(q))
    for metric, floor in FLOORS[name].items():
        if metric == "false_abstain_rate":
            assert metrics[metric] <= floor, (name, metric, metrics[metric])
        else:
            assert metrics[metric] >= floor, (name, metric, metrics[metric])
