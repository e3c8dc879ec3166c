"""The chat page in a real headless Chromium (Debian's), driven by Playwright."""

import os
import shutil

import pytest

from careerqa.app import create_app

from .conftest import LiveServer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
]

if not os.path.exists(CHROMIUM):
    if os.environ.get("CI"):
        pytest.fail("CI must install Debian's chromium for the browser test", pytrace=False)
    pytest.skip(
        "Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory, real_embedder):
    from careerqa.settings import Settings

    from .conftest import DATA

    root = tmp_path_factory.mktemp("browser")
    shutil.copytree(DATA / "corpus", root / "corpus")
    shutil.copy(DATA / "analyst" / "becoming-a-data-analyst.md", root / "corpus")
    settings = Settings(corpus_dir=root / "corpus", index_dir=root / "index")
    with LiveServer(create_app(settings, real_embedder)) as live:
        yield live


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context()
    page = context.new_page()
    page.goto(server.url + "/")
    yield page
    context.close()


def _ask(page, question):
    """Send a question and wait for its own reply (not an earlier one)."""
    done = page.locator(".bubble.assistant:not(.pending)").count()
    page.fill("#question", question)
    page.press("#question", "Enter")
    page.wait_for_function(
        "n => document.querySelectorAll('.bubble.assistant:not(.pending)').length > n",
        arg=done,
        timeout=30_000,
    )


def test_question_gets_a_cited_answer_that_opens_the_highlighted_source(page, server):
    assert page.locator("button.example").count() >= 3
    _ask(page, "How much do junior data engineers earn?")
    answer = page.locator(".bubble.assistant").last
    assert "$60,000 and $75,000" in answer.inner_text()
    marker = answer.locator(".cite-marker").first
    marker.hover()
    card = answer.locator(".cite-card").first
    assert card.is_visible()
    assert "Data Engineer Salaries" in card.inner_text()
    with page.expect_navigation():
        card.locator("a.cite-open").click()
    assert "/sources/salaries" in page.url
    mark = page.locator("mark#passage")
    assert mark.is_visible()
    assert "$60,000" in mark.inner_text()
    in_view = page.evaluate(
        "() => { const r = document.getElementById('passage').getBoundingClientRect();"
        " return r.top >= 0 && r.bottom <= window.innerHeight; }"
    )
    assert in_view


def test_a_list_answer_is_shown_as_a_list_with_a_citation_per_item(page):
    _ask(page, "Which tools do data analysts use?")
    answer = page.locator(".bubble.assistant").last
    items = answer.locator("ul.answer-list > li")
    assert items.count() == 4
    assert items.first.inner_text().startswith("Excel: Still the most common tool")
    for i in range(items.count()):
        assert items.nth(i).locator(".cite-marker").count() == 1
    assert "- Excel" not in answer.inner_text()  # the line marker became the bullet


def test_markup_in_a_question_is_shown_as_text(page):
    evil = '<img src=x onerror="window.__pwned=1"><b>bold</b> salary?'
    _ask(page, evil)
    user = page.locator(".bubble.user").last
    assert user.inner_text() == evil
    assert page.locator(".conversation b, .conversation img").count() == 0
    assert page.evaluate("() => window.__pwned") is None


def test_follow_up_sends_history_and_errors_appear_in_the_conversation(page):
    requests = []
    page.on(
        "request", lambda r: requests.append(r.post_data_json) if r.url.endswith("/ask") else None
    )
    _ask(page, "How much do junior data engineers earn?")
    _ask(page, "And seniors?")
    assert requests[-1]["history"][0]["content"] == "How much do junior data engineers earn?"
    page.route(
        "**/ask", lambda route: route.fulfill(status=503, json={"detail": "no index loaded: test"})
    )
    _ask(page, "Anything else?")
    error = page.locator(".bubble.error").last
    assert "no index loaded: test" in error.inner_text()


def test_shift_enter_breaks_the_line_and_enter_sends(page):
    page.click("#question")
    page.keyboard.type("first line")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("second line")
    assert page.input_value("#question") == "first line\nsecond line"
    assert page.locator(".bubble.user").count() == 0
    page.keyboard.press("Enter")
    page.wait_for_selector(".bubble.user")
    assert page.input_value("#question") == ""


def test_phone_width_and_dark_mode(browser, server, tmp_path):
    context = browser.new_context(viewport={"width": 375, "height": 740}, color_scheme="dark")
    page = context.new_page()
    page.goto(server.url + "/")
    _ask(page, "Which cloud platforms do pipelines run on?")
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 375  # nothing overflows sideways
    background = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(22, 23, 26)"
    shots = os.environ.get("CAREERQA_SCREENSHOTS")
    if shots:
        page.screenshot(path=os.path.join(shots, "phone-dark.png"), full_page=True)
    context.close()
