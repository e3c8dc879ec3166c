"""Generated answers: the checker on hand-written model outputs, fallbacks, streaming, /v1."""

import json
import shutil

import httpx
import pytest

from careerqa.app import create_app
from careerqa.assistant import Assistant, Draft, Finished, Started
from careerqa.checking import claims
from careerqa.ingest import ingest
from careerqa.settings import Settings
from careerqa.shapes import figures

from .conftest import DATA, LiveServer
from .model_server import ScriptedModel

SALARY = "How much do junior data engineers earn?"


@pytest.fixture(scope="module")
def model():
    with ScriptedModel() as scripted:
        yield scripted


@pytest.fixture(scope="module")
def base(tmp_path_factory, real_embedder, model):
    root = tmp_path_factory.mktemp("generation")
    shutil.copytree(DATA / "corpus", root / "corpus")
    settings = Settings(
        corpus_dir=root / "corpus",
        index_dir=root / "index",
        data_dir=root / "data",
        llm_url=model.url,
        llm_timeout=3.0,
    )
    data = ingest(settings, real_embedder).data
    return settings, data


@pytest.fixture
def assistant(base, real_embedder, model):
    settings, data = base
    model.behaviour = "text"
    return Assistant.from_data(settings, real_embedder, data)


def _ask(assistant, model, reply, question=SALARY):
    model.reply = reply
    return assistant.ask_sync(question, 3)


def _passage_numbers(model):
    """Which [n] the last prompt gave to which passage's first words."""
    prompt = model.requests[-1]["messages"][-1]["content"]
    return {int(block[1]): block for block in prompt.split("\n\n") if block.startswith("[")}


def test_a_supported_answer_is_generative_and_cites_its_passage(assistant, model):
    answer = _ask(
        assistant, model, "Junior data engineers usually earn $60,000 to $75,000 a year [1]."
    )
    passages = _passage_numbers(model)
    assert "Junior data engineers usually earn" in passages[1]
    assert answer.mode == "generative" and answer.reason is None
    assert answer.answer == "Junior data engineers usually earn $60,000 to $75,000 a year. [1]"
    assert answer.unsupported == []
    assert [c.n for c in answer.citations] == [1, 2, 3]
    prompt = model.requests[-1]["messages"]
    assert prompt[0]["role"] == "system" and "[1]" in prompt[0]["content"]
    assert prompt[-1]["content"].endswith(f"Question: {SALARY}")


def test_a_wrong_number_is_dropped(assistant, model):
    answer = _ask(
        assistant,
        model,
        "Junior data engineers usually earn between $60,000 and $75,000 a year [1]. "
        "Junior data engineers usually earn $95,000 a year [1].",
    )
    assert answer.mode == "generative"
    assert "$95,000" not in answer.answer and "$60,000" in answer.answer
    assert len(answer.unsupported) == 1
    assert "does not state 95000" in answer.unsupported[0].reason


def test_a_citation_to_a_passage_that_was_not_given_is_removed(assistant, model):
    answer = _ask(
        assistant, model, "Junior data engineers usually earn between $60,000 and $75,000 [9]."
    )
    assert "[9]" not in answer.answer
    assert answer.answer.endswith("[1]")  # checked against all passages: the one that says it


def test_a_sentence_citing_an_unrelated_passage_is_dropped(assistant, model):
    _ask(assistant, model, "x")
    passages = _passage_numbers(model)
    other = next(n for n, text in passages.items() if "Junior data engineers" not in text)
    answer = _ask(
        assistant,
        model,
        f"Junior data engineers usually earn between $60,000 and $75,000 a year [1]. "
        f"Data engineers are paid in stock options only [{other}].",
    )
    assert "stock options" not in answer.answer
    assert answer.unsupported[0].text == "Data engineers are paid in stock options only."
    assert "not supported by its passages" in answer.unsupported[0].reason


def test_an_answer_without_citations_gets_them_or_loses_the_sentence(assistant, model):
    answer = _ask(
        assistant,
        model,
        "Sure! Junior data engineers usually earn between $60,000 and $75,000 a year. "
        "Most of them work on submarines.",
    )
    assert answer.mode == "generative"
    assert answer.answer == (
        "Junior data engineers usually earn between $60,000 and $75,000 a year. [1]"
    )
    assert [u.text for u in answer.unsupported] == ["Most of them work on submarines."]


def test_nothing_supported_falls_back_to_the_extractive_answer(assistant, model):
    answer = _ask(assistant, model, "Penguins are excellent swimmers [1].")
    assert answer.mode == "extractive" and answer.answered
    assert "$60,000 and $75,000" in answer.answer
    assert answer.reason == "no sentence of the generated answer is supported by its passages"


@pytest.mark.parametrize(
    ("behaviour", "reason"),
    [
        ("empty", "the model returned an empty answer"),
        ("500", "the model answered with status 500"),
        ("garbage", "could not be read"),
        ("slow", "the model took longer than"),
    ],
)
def test_model_failures_fall_back_within_the_timeout(assistant, model, behaviour, reason):
    model.behaviour = behaviour
    answer = _ask(assistant, model, "Junior data engineers earn a lot [1].")
    assert answer.mode == "extractive" and answer.answered
    assert reason in answer.reason
    assert "$60,000" in answer.answer
    assert answer.took_ms < 10_000


def test_an_unreachable_model_falls_back(base, real_embedder):
    settings, data = base
    with_dead = settings.model_copy(update={"llm_url": "http://127.0.0.1:9/v1"})
    answer = Assistant.from_data(with_dead, real_embedder, data).ask_sync(SALARY)
    assert answer.mode == "extractive" and "could not be reached" in answer.reason


def test_a_question_the_articles_do_not_cover_never_reaches_the_model(assistant, model):
    before = len(model.requests)
    answer = assistant.ask_sync("What is the salary of a registered nurse?")
    assert not answer.answered and len(model.requests) == before


def test_stream_sends_citations_then_the_draft_then_the_checked_answer(assistant, model):
    model.reply = "Junior data engineers usually earn $60,000 to $75,000 [1]. Bananas [2]."

    async def collect():
        return [event async for event in assistant.stream(SALARY, 3)]

    import asyncio

    events = asyncio.run(collect())
    assert isinstance(events[0], Started) and events[0].mode == "generative"
    drafts = "".join(e.text for e in events if isinstance(e, Draft))
    assert drafts == model.reply  # the draft is what the model wrote, unchecked
    final = events[-1]
    assert isinstance(final, Finished)
    assert "Bananas" not in final.answer.answer


def test_claims_and_figures():
    found = claims("One [1]. Two [2, 9].\n- item three [3]\nFour. One [1]. Five is cut", {1, 2, 3})
    assert [(c.text, c.cited, c.item) for c in found] == [
        ("One.", (1,), False),
        ("Two.", (2,), False),
        ("item three", (3,), True),
        ("Four.", (), False),
    ]
    assert figures("$120,000 or 120k, 21 % and 3.5 years") == {"120000", "21%", "3.5"}


# --- over HTTP: /ask/stream and the OpenAI-compatible API --------------------------------


@pytest.fixture(scope="module")
def server(base, real_embedder):
    settings, _ = base
    settings = settings.model_copy(update={"llm_url": None, "api_key": "asker-key"})
    with LiveServer(create_app(settings, real_embedder)) as live:
        yield live


def _sse(text):
    events = []
    for block in text.strip().split("\n\n"):
        name = block.split("\n")[0].removeprefix("event: ")
        data = json.loads(block.split("\n")[1].removeprefix("data: "))
        events.append((name, data))
    return events


def test_ask_stream_sends_server_sent_events(server):
    headers = {"Authorization": "Bearer asker-key"}
    r = httpx.post(server.url + "/ask/stream", json={"question": SALARY}, headers=headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = _sse(r.text)
    assert [name for name, _ in events] == ["citations", "delta", "done"]
    assert events[0][1]["mode"] == "extractive" and events[0][1]["citations"]
    done = events[-1][1]
    assert done["answer"] == events[1][1]["text"] and done["mode"] == "extractive"
    assert httpx.post(server.url + "/ask/stream", json={"question": SALARY}).status_code == 401
    assert httpx.post(server.url + "/ask", json={"question": SALARY}).status_code == 401


def test_the_openai_client_gets_cited_answers(server):
    import openai

    client = openai.OpenAI(base_url=server.url + "/v1", api_key="asker-key")
    assert [m.id for m in client.models.list().data] == ["careerqa"]
    reply = client.chat.completions.create(
        model="careerqa", messages=[{"role": "user", "content": SALARY}]
    )
    content = reply.choices[0].message.content
    assert "$60,000" in content and "[1]" in content
    assert "\n\nSources:\n[1] Data Engineer Salaries" in content
    extra = reply.model_extra
    assert extra["citations"][0]["n"] == 1 and extra["careerqa"]["mode"] == "extractive"

    stream = client.chat.completions.create(
        model="careerqa",
        messages=[
            {"role": "user", "content": SALARY},
            {"role": "assistant", "content": content},
            {"role": "user", "content": "And seniors?"},
        ],
        stream=True,
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert "$140,000" in text and "Sources:" in text
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].model_extra["citations"]

    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=server.url + "/v1", api_key="wrong").models.list()


def test_an_unusable_chat_gets_a_reply_saying_why(server):
    r = httpx.post(
        server.url + "/v1/chat/completions",
        json={"model": "careerqa", "messages": [{"role": "user", "content": "   "}]},
        headers={"Authorization": "Bearer asker-key"},
    )
    assert r.status_code == 200
    body = r.json()
    assert body["choices"][0]["message"]["content"] == "I can't answer that: question is empty."
    assert body["careerqa"]["answered"] is False


def test_echoed_headers_questions_repeats_and_a_cut_off_end_are_not_claims(assistant, model):
    answer = _ask(
        assistant,
        model,
        "Data Engineer Salaries — Data Engineer Salaries [1]. What do juniors earn? "
        "Junior data engineers usually earn between $60,000 and $75,000 a year [1]. "
        "Junior data engineers usually earn between $60,000 and $75,000 a year [1]. "
        "Senior data engineers with ten years of experience often earn",
    )
    assert answer.answer == (
        "Junior data engineers usually earn between $60,000 and $75,000 a year. [1]"
    )
    assert answer.unsupported == []  # none of those was a claim


def test_a_title_alone_before_a_list_is_not_a_claim(assistant, model):
    answer = _ask(
        assistant,
        model,
        "Data Engineer Salaries: [1]\n"
        "- Junior data engineers usually earn between $60,000 and $75,000 a year [1]\n"
        "Where pay is highest: [2]",
    )
    assert answer.answer == (
        "- Junior data engineers usually earn between $60,000 and $75,000 a year [1]"
    )
    assert answer.unsupported == []


def test_filler_that_borrows_the_topic_but_not_the_passage_is_dropped(assistant, model):
    answer = _ask(
        assistant,
        model,
        "Junior data engineers usually earn between $60,000 and $75,000 a year [1]. "
        "This lays the groundwork for a rewarding data engineering career [1].",
    )
    assert answer.answer == (
        "Junior data engineers usually earn between $60,000 and $75,000 a year. [1]"
    )
    assert [u.text for u in answer.unsupported] == [
        "This lays the groundwork for a rewarding data engineering career."
    ]
    assert "word overlap" in answer.unsupported[0].reason


def test_a_title_with_another_heading_and_a_repeat_are_left_out(assistant, model):
    answer = _ask(
        assistant,
        model,
        "Data Engineer Salaries — Where pay is highest [2]\n"
        "- Junior data engineers usually earn between $60,000 and $75,000 a year [1]\n"
        "- Junior data engineers usually earn between $60,000 and $75,000 a year [1]",
    )
    assert answer.answer == (
        "- Junior data engineers usually earn between $60,000 and $75,000 a year [1]"
    )


def test_repeats_differing_only_in_quote_marks_are_one_claim():
    found = claims(
        "It’s common to start as an analyst. [1]\nIt's common to start as an analyst.", {1}
    )
    assert [c.text for c in found] == ["It’s common to start as an analyst."]


def test_a_list_item_cut_at_the_token_limit_is_left_out(assistant, model):
    model.behaviour = "cut"
    answer = _ask(
        assistant,
        model,
        "- Junior data engineers usually earn between $60,000 and $75,000 a year [1]\n"
        "- Senior data engineers with ten years of experience often earn",
    )
    assert answer.answer == (
        "- Junior data engineers usually earn between $60,000 and $75,000 a year [1]"
    )
    assert answer.unsupported == []
