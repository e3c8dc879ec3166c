"""Answer shapes, abbreviations, names and writers' notes, on an article written for the tests.

tests/data/analyst is about data analysts, not machine learning engineers: every
rule here has to work on text other than the shipped corpus.
"""

import re
from types import SimpleNamespace

import numpy as np
import pytest

from careerqa.answering import NOT_COVERED, _without_connective
from careerqa.assistant import Assistant
from careerqa.cleaning import without_notes
from careerqa.ingest import ingest
from careerqa.lexical import LexicalIndex, terms
from careerqa.query import QueryPlan, _without
from careerqa.retrieval import search
from careerqa.sentences import SentenceTable
from careerqa.settings import Settings
from careerqa.shapes import (
    asked_to_exist,
    compared,
    counted,
    dated_what,
    definition_term,
    earlier_questions,
    figure_kind,
    gives_figure,
    involved_what,
    list_noun,
    paid_whom,
    qualifiers,
    question_shape,
    timed_what,
)
from careerqa.shaping import Part, _list_of, _names, _says_something_new, _with_more
from careerqa.units import Unit, candidate_units
from careerqa.vocabulary import Vocabulary

from .conftest import DATA

ANALYST = DATA / "analyst"


@pytest.fixture(scope="module")
def analyst(tmp_path_factory, real_embedder) -> Assistant:
    settings = Settings(corpus_dir=ANALYST, index_dir=tmp_path_factory.mktemp("index"))
    return Assistant.from_data(settings, real_embedder, ingest(settings, real_embedder).data)


def _cited_lines(answer) -> list[tuple[str, str]]:
    """(line text, text of the passage its [n] cites) for every line of an answer."""
    out = []
    for line in answer.answer.splitlines():
        found = re.search(r"(.*) \[(\d+)\]$", line)
        assert found, f"uncited line: {line!r}"
        out.append((found.group(1), answer.citations[int(found.group(2)) - 1].text))
    return out


def test_a_list_question_names_every_item_on_its_own_cited_line(analyst):
    answer = analyst.ask_sync("Which tools do data analysts use?")
    assert answer.answered
    lines = _cited_lines(answer)
    assert lines[0][0].endswith("tools:")
    items = [text for text, _ in lines[1:]]
    assert [i.split(":")[0] for i in items] == ["- Excel", "- SQL", "- Tableau", "- Python"]
    for text, passage in lines[1:]:
        assert text.removeprefix("- ") in passage  # copied from the passage it cites


def test_a_list_comes_after_the_close_sentence_that_names_its_items(analyst):
    answer = analyst.ask_sync("What tools should an analyst learn?")
    lines = _cited_lines(answer)
    assert lines[0][0].startswith("Between them, Excel, SQL, Tableau and Python cover")
    assert lines[1][0].endswith("tools:") and len(lines) == 6


def test_a_how_question_gets_the_rest_of_the_paragraph(analyst):
    # The best sentence, then what its paragraph goes on to say, as one cited passage.
    answer = analyst.ask_sync("How do I become a data analyst?")
    first = answer.answer.split(" [")[0]
    assert first.startswith("A degree is not always required"), answer.answer
    assert first.endswith("moved into the role after a short course.")


def test_what_the_article_says_of_itself_is_no_answer(analyst):
    answer = analyst.ask_sync("How do I become a data analyst?")
    assert answer.answered and "This guide explains" not in answer.answer, answer.answer
    table = analyst.index.sentences
    framing = [t for t, f in zip(table.texts, table.framing, strict=True) if f]
    assert framing == ["This guide explains how to become a data analyst, step by step."]


def test_what_follows_on_from_the_article_speaking_of_itself_is_no_answer(tmp_path, real_embedder):
    assistant = _real_assistant(
        tmp_path,
        real_embedder,
        "# Becoming a Nurse\n\nIn this article, nurses hold a central place in every hospital. "
        "These professionals care for patients day and night.\n\n## Work\n\nNurses work in "
        "hospitals, clinics and homes. Many nurses work twelve-hour shifts.\n",
    )
    answer = assistant.ask_sync("Do nurses care for patients at night?")
    assert answer.answered and "In this article" not in answer.answer, answer.answer


def test_a_definition_comes_from_the_section_the_term_heads(analyst):
    answer = analyst.ask_sync("What is data cleaning?")
    assert answer.answer.startswith("Data Cleaning: Fixing missing values, duplicate rows")


def test_a_bare_first_item_is_given_under_its_heading(analyst):
    # "Fixing missing values…" alone does not say what it is about.
    answer = analyst.ask_sync("How do analysts handle duplicate rows?")
    assert answer.answer.startswith("Data Cleaning: Fixing missing values, duplicate rows")


def test_a_labelled_item_the_question_names_is_given_whole(analyst):
    # The item's opening sentence only restates its label; what it involves comes after.
    answer = analyst.ask_sync("What do scripted checks involve?")
    assert answer.answer.startswith("Scripted Checks: Scripted checks are a routine part")
    assert "flag empty fields and impossible dates" in answer.answer
    assert answer.answer.count("[") == 1  # one passage, one citation


def test_a_list_named_by_the_asked_noun_must_also_speak_of_what_else_is_asked(analyst):
    index = analyst.index

    def listed(question: str) -> list[str]:
        plan = QueryPlan.make(question, [], index.lexical, index.vocabulary)
        query = plan.query(analyst.embedder.embed(plan.texts))
        units = candidate_units(search(index, query.vector, query.search_text, 5), index, query)
        part = _list_of(list_noun(question), question, units, index.sentences, index.lexical)
        return [] if part is None else [index.sentences.texts[item[0]] for item in part.items]

    assert [i.split(":")[0] for i in listed("Which tools do analysts use?")] == [
        "Excel",
        "SQL",
        "Tableau",
        "Python",
    ]
    # The tools list names tools, but says nothing of catching errors.
    assert listed("Which tools catch an error early?") == []


def test_an_item_labelled_with_a_dash_is_a_labelled_item_too(analyst):
    answer = analyst.ask_sync("What does peer review involve?")
    assert answer.answer.startswith("Peer Review - Another analyst rereads every report")
    assert "discussed at the monthly team meeting. [1]" in answer.answer


def test_a_figure_question_gets_the_figure_of_the_asked_qualifier(analyst):
    entry = analyst.ask_sync("How much do entry-level data analysts earn?")
    assert "$55,000 and $65,000" in entry.answer.split("[")[0]
    senior = analyst.ask_sync("What salary do senior data analysts make?")
    assert "$90,000 to $110,000" in senior.answer.split("[")[0]
    # Other words for the same qualifier: a new graduate's pay is the entry-level one.
    graduate = analyst.ask_sync("How much do new grad analysts earn?")
    assert "$55,000 and $65,000" in graduate.answer.split("[")[0]
    assert qualifiers("with five years in the job") == {"experienced"}
    assert qualifiers("analysts with no prior experience") == set()
    duration = analyst.ask_sync("How long does a certificate program take?")
    assert "three to six months" in duration.answer
    # A pay band asks for money, as "salary" does.
    band = analyst.ask_sync("After five years in the job, what pay band do analysts move into?")
    assert band.answer.startswith("Senior Analysts: Senior analysts with five"), band.answer
    assert figure_kind("What compensation can I expect?") == "money"


def test_a_comparison_gets_a_sentence_on_each_side_rather_than_one_naming_both(analyst):
    answer = analyst.ask_sync("Excel or SQL: which is more useful for a beginner?")
    sentences = [s for s in re.split(r"(?<=\.) \[\d+\] ?", answer.answer) if s]
    sides = [("Excel" in s, "SQL" in s) for s in sentences]
    assert sorted(sides) == [(False, True), (True, False)], answer.answer


def test_a_where_question_is_answered_with_the_sentence_that_names_the_place(analyst):
    answer = analyst.ask_sync("Where can I practise data analysis for free?")
    first = answer.answer.split(" [")[0]
    assert "Kaggle" in first and "Data.gov" in first
    # A term with its initials, "Business Intelligence (BI)", is no place.
    answer = analyst.ask_sync("Where can analysts find practice data?")
    assert answer.answer.startswith("Public datasets on Kaggle"), answer.answer


def test_a_count_question_is_answered_with_a_count_of_what_it_asks(analyst):
    kept = analyst.ask_sync("How many versions of a query are kept?")
    assert "its last three versions are kept. [1]" in kept.answer
    # Close passages state numbers (salaries), but no count of queries or portfolios.
    for question in (
        "How many queries do entry-level analysts write?",
        "How many portfolios do senior analysts keep?",
    ):
        assert not analyst.ask_sync(question).answered, question
    assert counted("How many core requirements does the program have?") == "core requirements"
    assert counted("how many vacation days per year?") == "vacation days"


def test_a_qualifying_sentence_is_never_given_twice():
    # "However, …" is the best unit; what it qualifies comes next and must not bring it again.
    texts = ["Degrees help.", "A degree is not always required.", "However, skill counts."]
    table = SimpleNamespace(texts=texts, qualifies=[False, False, True], list_at=lambda row: None)
    vectors = np.eye(3)
    units = [Unit((r,), 0.5, 0.5, 0.5, vectors[r], False) for r in (2, 1, 0)]
    parts = _with_more(Part((2,)), units, table, 3)
    rows = [r for part in parts for r in part.rows]
    assert len(rows) == len(set(rows)) and rows[0] == 2


def test_names_of_places_in_prose():
    # A spaced dash in prose is no label; the words of a term's initials are no place.
    assert _names("Most beginners learn SQL on Coursera - it is free to audit.", set()) == {
        "Coursera"
    }
    assert _names("Try the free Kaggle Business Intelligence (BI) challenges.", set()) == {"Kaggle"}


def test_a_near_duplicate_is_left_out_unless_it_states_other_figures():
    texts = [
        "Banks use machine learning for fraud detection and risk assessment.",
        "Banks and insurers use machine learning to detect fraud and assess risk.",
        "Analysts earn $60,000 on average.",
        "On average analysts earn $75,000.",
    ]
    table = SimpleNamespace(texts=texts)
    angle = np.arccos(0.87)  # as close as two sentences saying the same thing
    vectors = [np.array([1.0, 0.0]), np.array([np.cos(angle), np.sin(angle)])]

    def unit(row: int) -> Unit:
        return Unit((row,), 0.5, 0.5, 0.5, vectors[row % 2], False)

    def new(row: int, other: int) -> bool:
        return _says_something_new(unit(row), [unit(other)], [Part((other,))], table)

    assert not new(1, 0)  # the same fact, said twice
    assert new(3, 2)  # as close, but another figure: a second source's number


def test_nothing_is_compared_with_what_the_articles_never_mention(analyst):
    for question in (
        "How does a data analyst's salary compare with a dentist's?",
        "How does a data analyst salary compare with a dentist salary?",  # "salary" is shared
    ):
        answer = analyst.ask_sync(question)
        assert not answer.answered and answer.citations == [], question
    assert analyst.ask_sync("Excel or SQL: which is more useful for a beginner?").answered
    # Numbers are no side the articles must mention, nor is a misspelt word. (The
    # articles say nothing of age, so the evidence is low: the threshold is set aside.)
    settings = analyst.settings.model_copy(update={"abstain_threshold": 0.0})
    anyway = Assistant.from_data(settings, analyst.embedder, analyst.data)
    assert anyway.ask_sync("Can I become an analyst at 40 or 50?").answered
    assert analyst.index.lexical.resembles("tablaeu") and not analyst.index.lexical.knows("tablaeu")


def test_a_figure_no_passage_states_is_declined(analyst):
    answer = analyst.ask_sync("How much does a certificate program cost?")
    assert not answer.answered and answer.answer == NOT_COVERED and answer.citations == []


def test_a_place_the_articles_never_name_is_declined(analyst):
    answer = analyst.ask_sync("How much do data analysts earn in Lisbon?")
    assert not answer.answered and answer.evidence == 0.0


def test_yes_no_questions_get_a_direct_lead_when_the_passage_gives_one(analyst):
    answer = analyst.ask_sync("Do I need a degree to become a data analyst?")
    assert answer.answer.startswith("Not necessarily. A degree is not always required")
    assert analyst.ask_sync("Do data analysts work with BI dashboards?").answer.startswith("Yes.")


def test_a_term_with_a_word_no_article_uses_is_not_defined(analyst):
    # The threshold is set aside: the rule declines, not the evidence.
    settings = analyst.settings.model_copy(update={"abstain_threshold": 0.0})
    anyway = Assistant.from_data(settings, analyst.embedder, analyst.data)
    answer = anyway.ask_sync("What is a pivot table?")
    assert not answer.answered and answer.answer == NOT_COVERED, answer.answer
    # A hedge is no word of the term; a term the article uses is defined.
    assert definition_term("What does data cleaning actually involve?") == "data cleaning involve"
    answer = anyway.ask_sync("What exactly is SQL?")
    assert answer.answer.startswith("SQL: Used to pull and join data"), answer.answer


@pytest.mark.parametrize(
    "question,thing",
    [
        ("Is there a labor union for data analysts?", "union"),
        ("Are there particular tools analysts use?", "tools"),
        ("Is there much math involved?", "math"),  # a participle says how it is
        ("Do analysts use SQL?", None),
    ],
)
def test_what_an_is_there_question_asks_of(question, thing):
    assert asked_to_exist(question) == thing


def test_what_no_article_mentions_is_not_said_to_exist(analyst):
    settings = analyst.settings.model_copy(update={"abstain_threshold": 0.0})
    anyway = Assistant.from_data(settings, analyst.embedder, analyst.data)
    answer = anyway.ask_sync("Is there a labor union for data analysts?")
    assert not answer.answered and answer.answer == NOT_COVERED, answer.answer
    answer = anyway.ask_sync("Are there particular tools data analysts use?")
    assert answer.answered, answer.answer


def test_a_lead_answers_a_need_only_when_the_question_asks_for_one(analyst):
    # "Not always required" says "yes, you can" to this one, not "not necessarily".
    answer = analyst.ask_sync("Can I become a data analyst with a history degree?")
    assert answer.answer.startswith("A degree is not always required"), answer.answer
    # "most write SQL queries daily" is what they do, not what they need.
    answer = analyst.ask_sync("Do analysts need to write SQL queries?")
    assert answer.answer.startswith("Every analyst works with"), answer.answer


def test_an_answer_never_opens_with_a_dangling_connective(analyst):
    answer = analyst.ask_sync("What do employers look for in a data analyst?")
    assert answer.answered
    assert not answer.answer.lower().startswith("however")
    assert _without_connective("However, employers look for skill.") == "Employers look for skill."
    assert _without_connective("However the data says") == "However the data says"
    assert _without_connective("Plus, from 2020 jobs grew.") == "From 2020 jobs grew."
    assert _without_connective("What’s more, pay rose.") == "Pay rose."
    # What points elsewhere in the article means nothing in an answer; a label stays.
    assert _without_connective("As mentioned earlier, SQL pulls data.") == "SQL pulls data."
    assert (
        _without_connective("SQL: We covered this in the video earlier, but you need joins.")
        == "SQL: You need joins."
    )
    assert _without_connective("SQL: However, it is old.") == "SQL: It is old."
    assert _without_connective("SQL: As a rule, it is old.") == "SQL: As a rule, it is old."


def test_a_sentence_comes_with_the_however_that_qualifies_it(analyst):
    # "A degree is not always required." alone hides what the article says next.
    answer = analyst.ask_sync("Is a degree required to become a data analyst?")
    first = answer.answer.split(" [")[0]
    assert first.endswith(
        "A degree is not always required to become a data analyst. However, employers "
        "look for proof of skill, such as a portfolio of finished reports."
    ), answer.answer


def _one_article(tmp_path, text: str) -> Settings:
    """Settings for a corpus of one Markdown article, indexed with the fake embedder."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text(text, encoding="utf-8")
    return Settings(corpus_dir=corpus, index_dir=tmp_path / "index", model="fake")


def _real_assistant(tmp_path, real_embedder, text: str) -> Assistant:
    """An assistant over one Markdown article, with the real embedder."""
    settings = _one_article(tmp_path, text).model_copy(update={"model": "all-MiniLM-L6-v2"})
    return Assistant.from_data(settings, real_embedder, ingest(settings, real_embedder).data)


def test_only_a_qualifier_in_the_same_paragraph_travels_with_the_sentence(tmp_path, fake):
    settings = _one_article(
        tmp_path,
        "# Interns\n\nInterns are paid. But the pay is low in small firms. Yet another intake "
        "starts in May. Mainly because demand is high. In that respect, May is busy.\n\n"
        "However, a new paragraph starts its own point. In this job, interns file reports.\n",
    )
    table = SentenceTable(ingest(settings, fake).data)
    qualifies = dict(zip(table.texts, table.qualifies, strict=True))
    assert qualifies["But the pay is low in small firms."]
    assert not qualifies["Yet another intake starts in May."]  # "yet" without its comma
    assert not qualifies["However, a new paragraph starts its own point."]
    # A reason given on its own leans on the sentence before it.
    refers = dict(zip(table.texts, table.refers_back, strict=True))
    assert refers["Mainly because demand is high."] and not refers["Interns are paid."]
    # So does one that says how it follows from it; "In this job" says where it is.
    assert refers["In that respect, May is busy."]
    assert not refers["In this job, interns file reports."]


def test_a_sentence_ending_on_this_or_these_leans_on_its_paragraph(tmp_path, fake):
    settings = _one_article(
        tmp_path,
        "# Nursing\n\nJobs for nurses are expected to grow 6% by 2032. An ageing population "
        "will drive this growth.\n\nNurses work in shifts. Many nurses enjoy this work.\n\n"
        "Night shifts pay more in this field.\n",
    )
    refers = dict(
        zip(
            *(lambda t: (t.texts, t.refers_back))(SentenceTable(ingest(settings, fake).data)),
            strict=True,
        )
    )
    assert refers["An ageing population will drive this growth."]
    assert refers["Many nurses enjoy this work."]
    # A paragraph's first sentence has nothing before it to lean on.
    assert not refers["Night shifts pay more in this field."]


def test_the_example_a_sentence_brings_in_comes_with_it(tmp_path, fake):
    settings = _one_article(
        tmp_path,
        "# Streaming\n\nEngineers build many systems. For instance, consider a music app. To "
        "keep listeners, engineers suggest songs from their history.\n\nTake note.\n\n"
        "Listeners skip songs.\n",
    )
    table = SentenceTable(ingest(settings, fake).data)
    refers = dict(zip(table.texts, table.refers_back, strict=True))
    assert refers["To keep listeners, engineers suggest songs from their history."]
    assert not refers["Listeners skip songs."]  # another paragraph


# A nursing article for the rules that need sections beside the one asked about.
NURSING = (
    "# Becoming a nurse\n\n## Training\n\nMost nurses study for a nursing degree at a "
    "university. A master's degree opens senior and teaching roles. Learning the basic "
    "skills of patient care takes about 6 months of full-time study on a course.\n\n"
    "## Outlook\n\nThe Bureau of Labor Statistics (BLS) groups nurses with other health "
    "workers. This broad category includes anyone who cares for patients. Jobs in it are "
    "expected to grow 6% from 2022 to 2032. An ageing population and longer lives will drive "
    "this growth.\n\n## Pay\n\nNurses earn about $80,000 a year. Night shifts pay more than "
    "day shifts.\n\n## Work\n\nNurses work in hospitals, clinics and homes. Many work "
    "twelve-hour shifts on wards.\n\n## Skills\n\nGood nurses listen well and stay calm. "
    "They keep careful notes on every patient.\n"
)


def test_a_sentence_ending_on_this_growth_comes_with_the_growth(tmp_path, real_embedder):
    assistant = _real_assistant(tmp_path, real_embedder, NURSING)
    # Why it grows is said by the sentence after the growth figure, of "this growth".
    answer = assistant.ask_sync("Why are nursing jobs expected to grow?")
    assert "An ageing population" in answer.answer, answer.answer
    # That sentence is never given before, or without, the growth it speaks of.
    answer = assistant.ask_sync("What will drive the growth in nursing jobs?")
    assert answer.answer.startswith(
        "Jobs in it are expected to grow 6% from 2022 to 2032. An ageing population"
    ), answer.answer


def test_a_sentence_after_a_list_speaks_of_the_list_not_of_its_last_item(tmp_path, fake):
    settings = _one_article(
        tmp_path,
        "# Degrees\n\nCommon degrees for analysts:\n\n- Statistics\n- Economics\n"
        "- Related fields\n\nThese programs teach the basics of data work. They also "
        "teach report writing.\n",
    )
    assistant = Assistant.from_data(settings, fake, ingest(settings, fake).data)
    index = assistant.index
    plan = QueryPlan.make("What do these programs teach?", [], index.lexical, index.vocabulary)
    query = plan.query(fake.embed(plan.texts))
    units = candidate_units(search(index, query.vector, query.search_text, 5), index, query)
    groups = [[index.sentences.texts[r] for r in u.rows] for u in units]
    assert [
        "These programs teach the basics of data work.",
        "They also teach report writing.",
    ] in groups, groups
    assert not any("Related fields" in g and len(g) > 1 for g in groups), groups


def test_a_sentence_that_sets_the_two_sides_against_each_other_answers_first(analyst):
    # "Data scientists build predictive models, while analysts explain…" names both
    # sides and contrasts them: it answers a difference question better than a
    # sentence on each side.
    for asked in (
        "How is a data analyst different from a data scientist?",
        "How do analysts compare with data scientists?",
    ):
        answer = analyst.ask_sync(asked)
        assert answer.answer.startswith(
            "Role vs. Related Careers: Data scientists build predictive models, while analysts"
        ), answer.answer


def test_a_steps_question_gets_the_list_whose_items_several_close_units_are(
    tmp_path, real_embedder
):
    assistant = _real_assistant(
        tmp_path,
        real_embedder,
        "# Reports\n\nAnalysts are paid well and most work in offices.\n\n"
        "## How a report gets made\n\nThe work is split up as follows:\n\n"
        "- Scoping: The analyst agrees what the report must answer.\n"
        "- Extraction: The analyst pulls the data for the report with SQL.\n"
        "- Cleaning: The analyst fixes missing values in the report data.\n"
        "- Presentation: The analyst turns the report into a dashboard.\n\n"
        "## Tools\n\nExcel and Tableau are the tools most analysts use every day.\n",
    )
    answer = assistant.ask_sync(
        "what are the steps an analyst goes through to make a report from data"
    )
    lines = answer.answer.splitlines()
    # The best matching step alone ("Extraction: …") would hide the others.
    assert lines[0].startswith("The work is split up as follows:"), answer.answer
    assert [line.split(":")[0] for line in lines[1:]] == [
        "- Scoping",
        "- Extraction",
        "- Cleaning",
        "- Presentation",
    ], answer.answer


def test_writers_notes_are_gone_from_the_cleaned_text_but_their_content_stays(analyst):
    text = next(iter(analyst.data.documents.values())).text
    for note in ("Clarify how", "Encourage readers", "Highlight the benefits"):
        assert note not in text
    assert "Role vs. Related Careers: Data scientists build predictive models" in text
    assert (
        "Certificate Programs: Finish a certificate program in six months and publish your "
        "capstone project." in text
    )
    assert "Study Tips: The benefits of studying with peers" in text


@pytest.mark.parametrize(
    "line,kept",
    [
        ("Tips: Explain that notes help.", "Tips: Notes help."),
        ("- Tips: Mention popular tools like Excel.", "- Tips: Popular tools like Excel."),
        ("Tips: Describe how analysts work.", ""),
        ("Study with peers. Emphasize the importance of practice.", None),
        (
            "Explain results to managers in plain words.",
            "Explain results to managers in plain words.",
        ),
        ("Analysts explain results to managers.", "Analysts explain results to managers."),
        (
            "Portfolio: Encourage readers to share their notebooks themselves.",
            "Portfolio: Share your notebooks yourself.",
        ),
        (
            "Projects: Suggest ideas such as a sales report, and recommend dating each step.",
            "Projects: Ideas such as a sales report, and dating each step.",
        ),
        (
            "Projects: Suggest a sales report, and recommend it to managers.",
            "Projects: A sales report, and recommend it to managers.",
        ),
        (
            "Tips: Note that analysts share their notebooks.",
            "Tips: Analysts share their notebooks.",
        ),
    ],
)
def test_writer_note_rules(line, kept):
    if kept is None:
        assert without_notes(line) == "Study with peers. The importance of practice."
    else:
        assert without_notes(line) == kept


def test_abbreviations_are_learnt_from_the_articles():
    texts = [
        "Analysts use Business Intelligence (BI) dashboards.",
        "Data analysts write reports. Data analysts present them. Data analysts use SQL.",
    ]
    vocabulary = Vocabulary(texts, LexicalIndex(texts))
    assert vocabulary.long_form("BI") == "business intelligence"
    assert vocabulary.long_form("DA") == "data analysts"  # the phrase used most, initials D A
    assert vocabulary.long_form("XYZ") is None
    assert vocabulary.expand("Which BI tools?") == "Which business intelligence tools?"


def test_an_abbreviation_asked_in_lower_case_is_written_out_unless_it_is_a_word():
    texts = [
        "Analysts use Business Intelligence (BI) dashboards and Key Performance Indicators "
        "(KPIs). The United States (US) has many BI jobs.",
        "Ask us about KPIs.",
    ]
    vocabulary = Vocabulary(texts, LexicalIndex(texts))
    assert vocabulary.expand("which bi tools") == "which business intelligence tools"
    assert vocabulary.expand("what is a kpi") == "what is a key performance indicators"
    assert vocabulary.expand("list the kpis") == "list the key performance indicators"
    # The articles write "us" as a word too: it stays a word.
    assert vocabulary.expand("can us firms hire me") == "can us firms hire me"


def test_a_word_is_known_in_another_form_only_less_an_ending():
    lexical = LexicalIndex(
        ["Learn to plan ahead.", "Know the class over there.", "Be full, ever clear."]
    )
    known = ["learners", "known", "classic", "fully", "planned"]
    assert all(lexical.knows(t) for w in known for t in terms(w)), known
    # Less a word, it is another word: a compound, or a word that merely starts alike.
    unknown = ["overfitting", "plant", "everyone", "clearance"]
    assert not any(lexical.knows(t) for w in unknown for t in terms(w)), unknown
    assert lexical.without_unknown_words("What is overfitting?") == "What is"


def test_the_corpus_topic_words_are_those_most_passages_use():
    texts = ["Data analysts write SQL.", "Analysts use Excel.", "Analysts present.", "Dashboards."]
    lexical = LexicalIndex(texts)
    assert lexical.without_topic_words("Do data analysts get a pension?") == (
        "Do data get a pension?"  # "analysts": three passages of four; "data": one
    )


@pytest.mark.parametrize(
    "question",
    [
        "Do data analysts usually get stock options?",
        "Can data analysts work remotely?",
        "Is there a labor union for data analysts?",
    ],
)
def test_a_question_on_the_topic_about_what_no_article_covers_is_declined(analyst, question):
    # Without "data analysts", which every passage is about, "stock options", "remotely"
    # and "a labor union" are most of what is asked, and no article uses those words.
    answer = analyst.ask_sync(question)
    assert not answer.answered, (answer.evidence, answer.answer)


def test_a_misspelt_word_is_read_as_the_articles_closest_word():
    texts = ["Analysts learn spreadsheets and statistics; the core of the work is reporting."]
    vocabulary = Vocabulary(texts, LexicalIndex(texts))
    assert vocabulary.respell("do analysts lern spredsheets or statistcs") == (
        "do analysts lern spreadsheets or statistics"  # "lern" is too short to guess at
    )
    # English words the articles don't use are not "corrected" into ones they do.
    assert vocabulary.respell("what score counts as reporting") == "what score counts as reporting"
    # A capitalised word may be a name; a word with no close one in the articles stays.
    assert vocabulary.respell("Spredsheets at Kubernetes, kubernetes") == (
        "Spredsheets at Kubernetes, kubernetes"
    )


def test_a_misspelt_question_is_answered_as_if_spelt_right(analyst):
    # Searched as the right spelling, it is answered from the same evidence.
    right = analyst.ask_sync("How do I handle duplicate rows?")
    misspelt = analyst.ask_sync("How do I handle dupplicate rows?")
    assert (misspelt.answer, misspelt.evidence) == (right.answer, right.evidence)
    plan = QueryPlan.make(
        "which tols do anallysts use", [], analyst.index.lexical, analyst.index.vocabulary
    )
    assert plan.expanded == "which tols do analysts use"


@pytest.mark.parametrize(
    "asked,searched",
    [
        ("I don't have a degree. How do I start?", "I without a degree. How do I start?"),
        ("can i get hired with no degree", "can i get hired without a degree"),
        ("I have no tech background", "I without a tech background"),
        ("i dont have any experience", "i without a experience"),
        ("I never finished a diploma", "I without a diploma"),
        # Only a lack of what a career asks for is rephrased.
        ("No, I mean the salary", "No, I mean the salary"),
        ("Is there no limit?", "Is there no limit?"),
        # A hedge after the question word is no part of what is asked.
        ("what even is a data analyst", "what is a data analyst"),
        ("What exactly does an analyst do?", "What does an analyst do?"),
        ("Is it even worth it?", "Is it even worth it?"),
    ],
)
def test_a_lack_is_searched_for_the_way_articles_write_it(asked, searched):
    assert _without(asked) == searched


def test_a_hedged_what_is_gets_the_definition_without_a_question_label(tmp_path, real_embedder):
    assistant = _real_assistant(
        tmp_path,
        real_embedder,
        "# Analysts\n\n## What Is a Data Analyst?\n\nA data analyst turns raw data into "
        "reports that managers use to decide.\n\n## Getting In\n\nEven if the job isn't "
        "labeled as a data analyst, even a support role can even help, even early on.\n\n"
        "## Pay\n\nAnalysts earn about $60,000.\n",
    )
    answer = assistant.ask_sync("what even is a data analyst")
    assert answer.answer.startswith("A data analyst turns raw data into reports"), answer.answer


def test_initials_of_a_name_the_articles_use_are_not_an_unknown_name():
    texts = [
        "Analysts in the United States earn more. Many firms want a strong foundation.",
        "A strong foundation matters. Build a strong foundation first.",
        "Most analysts in San Francisco use SQL.",
        "Model Selection: pick the simplest model.",
    ]
    vocabulary = Vocabulary(texts, LexicalIndex(texts))
    assert vocabulary.long_form("US") == "united states"  # used once, inside a sentence
    assert vocabulary.long_form("SF") == "san francisco"  # a name before a common phrase
    assert vocabulary.long_form("MS") is None  # a title-case heading is not a name
    assert vocabulary.unknown_names("What do analysts earn in the US?") == []
    assert vocabulary.unknown_names("What do analysts earn in the UK?") == ["UK"]


def test_unknown_names_are_capitalised_words_no_article_uses():
    texts = ["Analysts in Chicago use SQL and Excel."]
    vocabulary = Vocabulary(texts, LexicalIndex(texts))
    assert vocabulary.unknown_names("Do analysts in Lisbon use Excel?") == ["Lisbon"]
    assert vocabulary.unknown_names("Do analysts in Chicago use Excel?") == []
    assert vocabulary.unknown_names("Lisbon analysts: do they use SQL?") == []  # first word
    assert vocabulary.unknown_names("How Do Analysts In Lisbon Use Excel?") == []  # title case


@pytest.mark.parametrize(
    "question,kind",
    [
        ("How much do analysts earn?", "money"),
        ("What is the tuition for the course?", "money"),
        ("How long does the course take?", "duration"),
        ("How many hours a week do analysts work?", "hours"),
        ("When was the article updated?", "date"),
        ("When was the article on salaries published?", "date"),  # not money
        ("How many tools are there?", "count"),
        ("What % of analysts work from home?", "percent"),
        ("By what percentage will analyst jobs grow?", "percent"),
        ("What score do you need to pass the SQL exam?", "score"),
        ("What's the passing mark for the certificate?", "score"),
        ("What does a score of an analyst's work depend on?", None),
        ("Which cities pay analysts the most?", None),  # names, not a figure
        ("What does analyst pay depend on?", None),
    ],
)
def test_figure_kinds(question, kind):
    assert figure_kind(question) == kind


def test_figures_in_sentences():
    assert gives_figure("Jobs will grow 23% by 2030.", "percent")
    assert not gives_figure("Jobs will grow much faster than average.", "percent")
    assert gives_figure("A score of 720 passes.", "score")
    assert gives_figure("You need 70 percent to pass.", "score")
    assert not gives_figure("The exam has a passing score.", "score")
    assert gives_figure("They earn $55,000 a year.", "money")
    assert not gives_figure("They earn a competitive salary.", "money")
    assert gives_figure("It takes three to six months.", "duration")
    assert gives_figure("Courses finish within months.", "duration")
    assert not gives_figure("It takes dedication.", "duration")


def test_question_parts():
    assert list_noun("Which tools do data analysts use?") == "tools"
    assert list_noun("Which statistics concepts matter?") == "concepts"
    assert list_noun("What are the key duties of an analyst?") == "duties"
    assert definition_term("What is data cleaning?") == "data cleaning"
    assert definition_term("What does business intelligence mean?") == "business intelligence"
    assert compared("Excel or Python: which should I learn first?") == ("Excel", "Python")
    assert compared("How does an analyst differ from a scientist?") == ("an analyst", "a scientist")
    for asked in (
        "how is an analyst different from a scientist?",
        "What sets an analyst apart from a scientist?",
        "what separates an analyst from a scientist?",
    ):
        assert question_shape(asked) == "comparison", asked
        assert compared(asked) == ("an analyst", "a scientist"), asked
    # A spaced dash ends a side: "excel vs sql - which…" weighs Excel and SQL.
    assert compared("excel vs sql - which one is for reports?") == ("excel", "sql")
    # The "or" of a condition is no comparison; "compare with" is one.
    assert compared("If I learn Excel or SQL, which jobs open up?") is None
    assert question_shape("If I learn Excel or SQL, which jobs open up?") != "comparison"
    assert compared("How does pay compare with a dentist's?") == ("pay", "a dentist's")
    # …unless the condition holds the choice the main clause weighs.
    assert compared("If I had to pick Excel or SQL, which is better?") is not None
    assert counted("How many versions stay saved?") == "versions"


def test_the_passage_the_embedding_clearly_prefers_stays_among_the_hits(tmp_path, real_embedder):
    # Every other section says "bakers" and "make" often, so BM25 ranks them first;
    # the one that answers says neither word much, but leads the embedding by far.
    sections = [
        f"## Bakers and {topic}\n\nBakers make {topic} early. Bakers make {topic} and make "
        f"more {topic} when bakers make sales.\n"
        for topic in ("ovens", "flour", "shifts", "markets", "pastry", "bread")
    ]
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text(
        "# Bakeries\n\n" + "\n".join(sections) + "\n## Will Machines Replace Bakers?\n\n"
        "No. Automation will not take over the craft; mixers and timers only help people.\n",
        encoding="utf-8",
    )
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index", adapt_questions=False)
    index = Assistant.from_data(settings, real_embedder, ingest(settings, real_embedder).data).index
    plan = QueryPlan.make(
        "Are robots going to make bakers obsolete?", [], index.lexical, index.vocabulary
    )
    query = plan.query(real_embedder.embed(plan.texts))
    headings = [
        hit.chunk.chunk.heading for hit in search(index, query.vector, query.search_text, 3)
    ]
    assert "Will Machines Replace Bakers?" in headings, headings


def test_a_how_question_answered_mid_paragraph_does_not_get_the_tips_after_it(
    tmp_path, real_embedder
):
    assistant = _real_assistant(
        tmp_path,
        real_embedder,
        "# Becoming an analyst\n\nBreaking into analytics is hard but doable with a plan. "
        "Learn SQL and Excel from free courses. Build a portfolio of dashboard projects "
        "and publish it online for employers to see. Go to local meetups to hear about "
        "openings early. Apply widely and be patient with rejections.\n\n"
        "## Pay\n\nAnalysts earn $60,000 a year on average in the United States.\n",
    )
    answer = assistant.ask_sync("How do I put together a portfolio employers will look at?")
    assert answer.answer.startswith("Build a portfolio of dashboard projects"), answer.answer
    # The paragraph's next tips answer other questions ("Go to local meetups…").
    assert "meetups" not in answer.answer and "rejections" not in answer.answer, answer.answer
    # Opened at its first sentence, the paragraph is still given on: it says how.
    answer = assistant.ask_sync("How do I break into analytics?")
    assert answer.answer.startswith("Breaking into analytics is hard but doable"), answer.answer
    assert "Learn SQL and Excel" in answer.answer.split(" [")[0], answer.answer


def test_a_share_or_a_pass_mark_no_passage_states_is_declined(tmp_path, real_embedder):
    assistant = _real_assistant(
        tmp_path,
        real_embedder,
        "# Analysts\n\nThe Analytics Certification exam is offered by a software vendor "
        "and tests SQL and dashboards. Many analysts take it after a year of work.\n\n"
        "## Outlook\n\nEmployment of analysts is projected to grow 23% over the decade. "
        "Some analysts work from home, others in offices.\n",
    )
    for asked in (
        "What score do you need to pass the Analytics Certification exam?",
        "what % of analysts work from home?",
    ):
        answer = assistant.ask_sync(asked)
        assert not answer.answered and answer.answer == NOT_COVERED, (asked, answer.answer)
    answer = assistant.ask_sync("By what percentage is analyst employment projected to grow?")
    assert answer.answered and "23%" in answer.answer, answer.answer


@pytest.mark.parametrize(
    ("question", "named", "compounds"),
    [
        ("How much does a data scientist make?", ["data scientist"], []),
        ("What's the salary of a DevOps engineer?", ["DevOps engineer"], []),
        ("What is a nurse's salary?", ["nurse"], []),
        ("What do software developers earn on average?", ["software developers"], []),
        ("Pay gap between a tester and a designer?", ["tester", "designer"], []),
        ("What is the median annual salary for analysts?", ["analysts"], ["median annual"]),
        ("What's the average data analyst salary?", [], ["average data analyst"]),
        ("How much can I expect to make in my first job?", [], []),
        ("How much do companies pay analysts?", [], []),
    ],
)
def test_whose_pay_a_question_asks_for(question, named, compounds):
    assert paid_whom(question) == (named, compounds)


@pytest.mark.parametrize(
    ("question", "timed"),
    [
        ("How long does a masters in machine learning take", ["a masters in machine learning"]),
        ("How long do bootcamps usually take?", ["bootcamps"]),
        ("How long is a certificate program?", ["a certificate program"]),
        ("How many years does a PhD take?", ["a PhD"]),
        ("What is the duration of the online MS?", ["the online MS"]),
        ("How long does it take to become a nurse?", []),
        ("Roughly how long will it take me to get job-ready?", []),
        ("Over what period was the growth projected?", []),
    ],
)
def test_what_a_how_long_question_times(question, timed):
    assert timed_what(question) == timed


def test_how_long_something_takes_is_said_only_by_a_passage_naming_it(tmp_path, real_embedder):
    assistant = _real_assistant(tmp_path, real_embedder, NURSING)
    # The course's six months are not how long a master's degree takes.
    answer = assistant.ask_sync("How long does a master's degree take?")
    assert not answer.answered and answer.answer == NOT_COVERED, answer.answer
    answer = assistant.ask_sync("How long does it take to learn the basic skills of patient care?")
    assert answer.answered and "about 6 months" in answer.answer, answer.answer


@pytest.mark.parametrize(
    "question,dated",
    [
        ("When was the nursing article last updated?", ("the nursing  ", "updated")),
        ("When was the guide to pay published?", ("the   to pay", "published")),
        ("When has this been written?", None),  # names nothing
        ("When is the best time to apply?", None),  # no event that happened
    ],
)
def test_what_a_when_question_dates(question, dated):
    assert dated_what(question) == dated


def test_a_date_is_given_only_for_the_event_and_the_thing_asked(tmp_path, real_embedder):
    dated = NURSING.replace("\n\n## Training", "\n\nLast updated on March 3, 2024\n\n## Training")
    assistant = _real_assistant(tmp_path, real_embedder, dated)
    answer = assistant.ask_sync("When was the nursing article last updated?")
    assert answer.answered and "March 3, 2024" in answer.answer, answer.answer
    # It says when it was updated, not when it was published, and is not an article on pay.
    for question in (
        "When was the nursing article published?",
        "When was the pay article updated?",
    ):
        answer = assistant.ask_sync(question)
        assert not answer.answered and answer.answer == NOT_COVERED, (question, answer.answer)


@pytest.mark.parametrize(
    "question,named",
    [
        ("What does data cleaning actually involve?", "data cleaning"),
        (
            "What does feature work / data cleaning involve in practice?",
            "feature work / data cleaning",
        ),
        ("When shipping a model, what kind of work does that involve?", None),
    ],
)
def test_what_an_involve_question_names(question, named):
    assert involved_what(question) == named


def test_what_something_involves_comes_from_the_item_it_heads(tmp_path, real_embedder):
    assistant = _real_assistant(
        tmp_path,
        real_embedder,
        "# Data Work\n\n## Steps\n\n- Data Collection: Teams gather and clean data from many "
        "sources. This involves scraping and data entry.\n- Data Cleaning and Validation: Data "
        "cleaning and validation are key steps. You should fix broken rows. This may involve "
        "removing duplicates and filling gaps.\n- Reporting: Analysts write reports for "
        "managers.\n\n## Cleaning\n\nData cleaning matters a lot for every analyst.\n",
    )
    # Not the sentence that says cleaning matters, nor the item on collecting data.
    answer = assistant.ask_sync("What does data cleaning actually involve?")
    assert answer.answer.startswith("Data Cleaning and Validation: Data cleaning"), answer.answer
    assert "removing duplicates and filling gaps" in answer.answer, answer.answer


def test_a_figure_question_also_sees_the_passage_of_the_nearest_sentence_stating_one(
    tmp_path, real_embedder
):
    assistant = _real_assistant(
        tmp_path,
        real_embedder,
        "# Becoming a nurse\n\n## Career Path\n\nAfter a few years on the wards, many nurses "
        "move into charge nurse or specialist roles. Some go on to teach or manage a unit.\n\n"
        "## Pay\n\nExperienced nurses often earn $90,000 to $110,000 a year.\n\n"
        "## Work\n\nNurses work in hospitals, clinics and homes.\n",
    )
    # One passage retrieved: the career-path one, which has the question's words.
    settings = assistant.settings.model_copy(update={"top_k": 1})
    one = Assistant.from_data(settings, assistant.embedder, assistant.data)
    answer = one.ask_sync(
        "Once a nurse has a few years under their belt, what pay band do they move into?"
    )
    assert answer.answer.startswith("Experienced nurses often earn $90,000"), answer.answer


def test_a_price_is_never_answered_with_a_pay(tmp_path, real_embedder):
    assistant = _real_assistant(tmp_path, real_embedder, NURSING)
    for question in ("How much does a nursing degree cost?", "What is the tuition for it?"):
        answer = assistant.ask_sync(question)
        assert not answer.answered and answer.answer == NOT_COVERED, (question, answer.answer)
    answer = assistant.ask_sync("How much do nurses earn?")
    assert answer.answer.startswith("Nurses earn about $80,000 a year."), answer.answer


def test_the_pay_of_someone_no_passage_pays_is_declined(tmp_path, real_embedder):
    assistant = _real_assistant(
        tmp_path,
        real_embedder,
        "# Data Analysts\n\nData analysts turn data into reports. Data analysts work with "
        "business analysts and software engineers.\n\n"
        "## Data Analyst Salary\n\nEntry-level data analysts earn about $55,000 a year. "
        "Experienced data analysts earn $80,000 or more.\n\n"
        "## Related Roles\n\nData engineers, a related role, earn about $120,000. Data "
        "analysts often move into data engineering.\n\n"
        "## Tools\n\nData analysts use SQL, spreadsheets and data dashboards daily.\n",
    )
    for asked in (
        "How much does a software engineer make?",
        "What is the salary of a business analyst?",
        "What's the salary difference between a data analyst and a product manager?",
    ):
        answer = assistant.ask_sync(asked)
        assert not answer.answered and answer.answer == NOT_COVERED, (asked, answer.answer)
    for asked, figure in (
        ("How much do entry-level data analysts earn?", "$55,000"),
        ("What is the median annual salary for experienced data analysts?", "$80,000"),
        ("What's the typical experienced data analyst salary?", "$80,000"),
        ("How much does a data engineer make?", "$120,000"),
    ):
        answer = assistant.ask_sync(asked)
        assert answer.answered and figure in answer.answer, (asked, answer.answer)


def test_a_figure_asked_before_the_last_question_must_be_stated(tmp_path, real_embedder):
    assert earlier_questions("How many hours? Is it good? Thanks.") == ["How many hours?"]
    assistant = _real_assistant(
        tmp_path,
        real_embedder,
        "# Analysts\n\nAnalysts build reports and dashboards for managers. The hours analysts "
        "work change from week to week, and the work is varied.\n\n## Pay\n\nAnalysts earn "
        "about $60,000 a year.\n",
    )
    asked = "How many hours a week do analysts work? Is the work varied?"
    answer = assistant.ask_sync(asked)
    assert not answer.answered and answer.answer == NOT_COVERED, answer.answer
    answer = assistant.ask_sync("How much do analysts earn? Is the work varied?")
    assert answer.answered, answer.answer
