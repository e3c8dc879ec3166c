"""Cleaning rules, headings, and offsets into the cleaned text."""

from pathlib import Path

import pytest

from careerqa.cleaning import clean, is_boilerplate, is_heading
from careerqa.corpus import Document, load_corpus

REPO_CORPUS = Path(__file__).parent.parent / "corpus"


def _doc(text: str) -> Document:
    return Document("d", "T", "d.txt", text, "h")


def _kept(text: str) -> list[str]:
    cleaned = clean(_doc(text))
    return [cleaned.text[b.start : b.end] for b in cleaned.blocks]


@pytest.mark.parametrize(
    "line",
    [
        "Read also: Education for Psychologists",
        "Read: Top Companies Hiring Engineers",
        "See also: Another post",
        "Popular posts:",
        "Leave a Reply",
        "Your email address will not be published. Required fields are marked *",
        "tags: #how #to #become",
        "#machine #learning #engineer",
        "Monday, July 1, 2024",
        "Preview the article's focus on roles so readers know what is coming.",
        "Summarize the steps. End with a motivational call-to-action encouraging readers.",
    ],
)
def test_boilerplate_lines_are_recognised(line):
    assert is_boilerplate(line)


@pytest.mark.parametrize(
    "line",
    [
        "Readers of this blog often ask about salaries.",
        "Reading research papers keeps you current.",
        "Python is the preferred language for machine learning.",
        "Explain your model to stakeholders in plain words.",
    ],
)
def test_content_is_not_boilerplate(line):
    assert not is_boilerplate(line)


def test_a_date_that_dates_the_article_is_kept_as_a_sentence():
    # When the page was shown says nothing; when the article was updated is asked about.
    kept = _kept("Monday, July 1, 2024\n\n# Title\n\nLast Updated on August 14, 2023\n\nText.")
    assert kept == ["Title", "Last Updated on August 14, 2023.", "Text."]
    cleaned = clean(_doc("# Title\n\nPublished: March 3, 2024\n\nText."))
    assert [b.kind for b in cleaned.blocks] == ["heading", "paragraph", "paragraph"]


def test_junk_runs_are_dropped_but_content_kept():
    kept = _kept("Real sentence one.\neyru 5u\n0\n0\n0\n\n7\nAnother real sentence.\n")
    assert kept == ["Real sentence one.", "Another real sentence."]


def test_lowercase_content_next_to_numbers_survives():
    kept = _kept("Salaries\nentry-level pay is $70,000.\n2024 was a good year.\n")
    assert "entry-level pay is $70,000." in kept


def test_writer_instruction_prefix_is_removed_but_content_kept():
    kept = _kept("Role Overview: Explain that engineers build models from data.")
    assert kept == ["Role Overview: Engineers build models from data."]


def test_headings_are_recognised_and_become_context():
    cleaned = clean(_doc("Do You Need a Degree?\nA degree helps but is not required.\n"))
    heading, para = cleaned.blocks
    assert heading.kind == "heading" and para.kind == "paragraph"
    assert para.heading == "Do You Need a Degree?"


@pytest.mark.parametrize(
    "line,expected",
    [
        ("Technical Skills", True),
        ("Step 5: Machine Learning Engineer Salary & Career Growth", True),
        ("Formal Education (Bachelor’s & Master’s Degrees)", True),
        ("Conclusion:", True),
        ("Here are some examples:", False),
        ("Python is widely used in the field.", False),
        ("- Python: the preferred language", False),
        ("  1. Developing models", False),
    ],
)
def test_heading_rule(line, expected):
    assert is_heading(line.strip()) is expected


def test_markdown_headings():
    cleaned = clean(_doc("# Salaries\n\nPay is good.\n## Where\nCities pay more.\n"))
    headings = [cleaned.text[b.start : b.end] for b in cleaned.blocks if b.kind == "heading"]
    assert headings == ["Salaries", "Where"]
    assert cleaned.blocks[-1].heading == "Where"


def test_offsets_point_at_the_block_text(corpus_dir):
    for doc in load_corpus(corpus_dir).documents:
        cleaned = clean(doc)
        for block in cleaned.blocks:
            piece = cleaned.text[block.start : block.end]
            assert piece and piece == piece.strip()
            assert "\n" not in piece


def test_shipped_corpus_is_free_of_boilerplate():
    for doc in load_corpus(REPO_CORPUS).documents:
        text = clean(doc).text
        for marker in (
            "Read also:",
            "Read:",
            "Leave a Reply",
            "tags:",
            "eyru",
            "\n0\n",
            "Popular posts",
        ):
            assert marker not in text, (doc.source, marker)
        assert "so readers know" not in text
        # Content around the junk is still there.
        assert len(text) > 0.8 * len(doc.text)
