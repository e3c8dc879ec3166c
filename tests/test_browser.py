"""The chat page in a real headless Chromium (Debian's), driven by Playwright."""

import json
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


DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
FAILED_503 = (
    "Failed to load resource: the server responded with a status of 503 (Service Unavailable)"
)
FOUR = [
    "How much do junior data engineers earn?",
    "Which cloud platforms do pipelines run on?",
    "What should a first portfolio project be?",
    "Which tools do data analysts use?",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory, real_embedder):
    from careerqa.settings import Settings

    from .conftest import DATA

    root = tmp_path_factory.mktemp("browser")
    shutil.copytree(DATA / "corpus", root / "corpus")
    shutil.copy(DATA / "analyst" / "becoming-a-data-analyst.md", root / "corpus")
    settings = Settings(
        corpus_dir=root / "corpus", index_dir=root / "index", data_dir=root / "data"
    )
    with LiveServer(create_app(settings, real_embedder)) as live:
        live.settings = settings
        yield live


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


def _open(browser, server, device):
    context = browser.new_context(**device)
    page = context.new_page()
    page.problems = []
    page.on("console", lambda m: m.type == "error" and page.problems.append(m.text))
    page.on("pageerror", lambda e: page.problems.append(str(e)))
    page.goto(server.url + "/")
    return context, page


@pytest.fixture
def page(browser, server):
    context, page = _open(browser, server, DESKTOP)
    yield page
    assert page.problems == []  # no script errors, no failed loads (the favicon included)
    context.close()


@pytest.fixture
def phone(browser, server):
    context, page = _open(browser, server, PHONE)
    yield page
    assert page.problems == []
    context.close()


def _shot(page, name):
    """Saved when CAREERQA_SCREENSHOTS names a folder (the closing notes describe them)."""
    folder = os.environ.get("CAREERQA_SCREENSHOTS")
    if folder:
        page.screenshot(path=os.path.join(folder, name + ".png"))


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


def _in_view(page, locator):
    """The element is inside the conversation's visible part, wholly above the input box."""
    box = locator.bounding_box()
    view = page.locator("#conversation").bounding_box()
    form = page.locator("#ask-form").bounding_box()
    assert box and view and form
    fits = box["height"] <= view["height"]
    top_ok = box["y"] >= view["y"] - 1
    bottom_ok = box["y"] + box["height"] <= min(view["y"] + view["height"], form["y"]) + 1
    return top_ok and (bottom_ok or not fits)


def _hold_asks(page):
    """Requests to /ask wait until released: the loading state can be looked at."""
    held = []
    page.route("**/ask/stream", lambda route: held.append(route))
    return held


# --- a conversation: newest message in view, kept across reloads, New chat ---------


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_four_answers_the_newest_message_and_the_loader_stay_above_the_input(
    browser, server, device
):
    context, page = _open(browser, server, DESKTOP if device == "desktop" else PHONE)
    for question in FOUR[:3]:
        _ask(page, question)
        assert _in_view(page, page.locator(".bubble.assistant").last)
    held = _hold_asks(page)
    page.fill("#question", FOUR[3])
    page.press("#question", "Enter")
    page.wait_for_selector(".bubble.pending")
    assert _in_view(page, page.locator(".bubble.pending"))
    assert page.inner_text("#send") == "Stop"
    for _ in range(500):  # the held request reaches the route handler
        if held:
            break
        page.wait_for_timeout(20)
    held[0].continue_()
    page.unroute("**/ask/stream")
    page.wait_for_selector(".bubble.pending", state="detached", timeout=30_000)
    last = page.locator(".bubble.assistant").last
    assert _in_view(page, last)
    assert page.locator(".bubble.assistant").count() == 4
    assert last.locator("ul.answer-list > li").count() >= 2  # the fourth is a list
    _shot(page, f"{device}-four-answers")
    last.scroll_into_view_if_needed()
    _shot(page, f"{device}-list-answer")
    assert page.problems == []
    context.close()


def test_the_conversation_survives_a_reload_and_new_chat_clears_it(page):
    _ask(page, FOUR[0])
    _ask(page, "And seniors?")
    before = page.locator(".conversation").inner_text()
    page.reload()
    assert page.locator(".bubble.user").count() == 2
    assert page.locator(".conversation").inner_text() == before
    assert page.locator("#intro").is_hidden()
    assert _in_view(page, page.locator(".bubble.assistant").last)
    page.locator(".bubble.assistant").first.locator(".cite-marker").first.hover()
    assert page.locator(".cite-card").first.is_visible()  # restored answers work as before
    # The next question still sends the restored turns as history.
    sent = []
    page.on("request", lambda r: r.url.endswith("/ask/stream") and sent.append(r.post_data_json))
    _ask(page, "What about mid-level?")
    assert [t["content"] for t in sent[0]["history"] if t["role"] == "user"] == [
        FOUR[0],
        "And seniors?",
    ]
    page.click("#new-chat")
    assert page.locator(".bubble").count() == 0
    assert page.locator("#intro").is_visible()
    assert page.is_hidden("#new-chat")
    page.reload()
    assert page.locator(".bubble").count() == 0


def test_speakers_are_labelled(page):
    _ask(page, FOUR[0])
    assert page.locator(".bubble.user .who").inner_text() == "You"
    assert page.locator(".bubble.assistant .who").inner_text() == "careerqa"
    assert page.locator(".bubble.user").get_attribute("aria-label") == "Your question"
    assert page.locator(".bubble.assistant").get_attribute("aria-label") == "careerqa's answer"


def test_favicon_is_served(page, server):
    r = page.request.get(server.url + "/favicon.ico")
    assert r.status == 200 and r.headers["content-type"] == "image/x-icon"
    assert r.body()[:4] == b"\x00\x00\x01\x00"  # an ICO file


# --- answers, citations and sources ---------------------------------------------------


def test_question_gets_a_cited_answer_and_the_source_opens_beside_the_chat(page):
    assert page.locator("button.example").count() >= 3
    _ask(page, "How much do junior data engineers earn?")
    answer = page.locator(".bubble.assistant").last
    assert "$60,000 and $75,000" in answer.inner_text()
    # Sources up front: title, heading and a line of the passage, without a click.
    source = answer.locator(".sources .source-item").first
    assert source.is_visible()
    assert "Data Engineer Salaries" in source.locator(".source-link").inner_text()
    assert "$60,000" in source.locator(".source-line").inner_text()
    marker = answer.locator(".cite-marker").first
    box = marker.bounding_box()
    assert box["width"] >= 24 and box["height"] >= 24
    marker.hover()
    card = answer.locator(".cite-card").first
    assert card.is_visible()
    assert "Data Engineer Salaries" in card.inner_text()
    _shot(page, "desktop-citation-preview")
    card.locator("a.cite-open").click()
    panel = page.locator("#source-panel")
    assert panel.is_visible()
    assert page.url.endswith("/")  # the chat was not replaced
    frame = page.frame_locator("#panel-frame")
    mark = frame.locator("mark#passage")
    mark.wait_for()
    assert "$60,000" in mark.inner_text()
    assert frame.locator("header.top").count() == 0  # the panel view has no site header
    chat = page.locator("main.chat").bounding_box()
    side = panel.bounding_box()
    assert side["x"] >= chat["x"] + chat["width"] - 1  # beside the chat, not over it
    assert answer.is_visible()
    frame_box = page.locator("#panel-frame").bounding_box()
    mark_box = mark.bounding_box()
    assert frame_box["y"] <= mark_box["y"] <= frame_box["y"] + frame_box["height"]
    page.mouse.move(0, 0)
    _shot(page, "desktop-source-beside-chat")
    page.keyboard.press("Escape")
    assert panel.is_hidden()
    page.mouse.move(0, 0)  # off the marker, whose card would cover the sources
    assert card.is_hidden()
    # The sources list opens the same panel; a new tab stays available.
    assert source.locator(".source-link").get_attribute("target") == "_blank"
    source.locator(".source-link").click()
    assert panel.is_visible()
    page.click("#panel-close")
    assert panel.is_hidden()


def test_a_list_answer_is_shown_as_a_list_with_a_citation_per_item(page):
    _ask(page, "Which tools do data analysts use?")
    answer = page.locator(".bubble.assistant").last
    items = answer.locator("ul.answer-list > li")
    assert items.count() == 4
    assert items.first.inner_text().startswith("Excel: Still the most common tool")
    for i in range(items.count()):
        assert items.nth(i).locator(".cite-marker").count() == 1
    # The line marker became the bullet.
    assert "- Excel" not in answer.locator(".answer-text").inner_text()


def test_copy_puts_the_answer_and_its_sources_on_the_clipboard(browser, server):
    context, page = _open(browser, server, DESKTOP)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    _ask(page, FOUR[0])
    answer = page.locator(".bubble.assistant").last
    answer.locator("button.copy").click()
    page.wait_for_function("() => document.querySelector('button.copy').textContent === 'Copied'")
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert "$60,000 and $75,000" in copied and "[1]" in copied
    assert "\n\nSources:\n[1] " in copied
    assert server.url + "/sources/" in copied
    assert page.problems == []
    context.close()


def test_markup_in_a_question_is_shown_as_text(page):
    evil = '<img src=x onerror="window.__pwned=1"><b>bold</b> salary?'
    _ask(page, evil)
    user = page.locator(".bubble.user .user-text").last
    assert user.inner_text() == evil
    assert page.locator(".conversation b, .conversation img").count() == 0
    assert page.evaluate("() => window.__pwned") is None
    page.reload()  # restored from storage: still text
    assert page.locator(".conversation b, .conversation img").count() == 0
    assert page.evaluate("() => window.__pwned") is None


# --- input: Enter, the length limit, errors and retry ---------------------------------


def test_follow_up_sends_history_and_an_error_offers_retry_with_the_question_kept(page):
    requests = []
    page.on(
        "request",
        lambda r: requests.append(r.post_data_json) if r.url.endswith("/ask/stream") else None,
    )
    _ask(page, "How much do junior data engineers earn?")
    _ask(page, "And seniors?")
    assert requests[-1]["history"][0]["content"] == "How much do junior data engineers earn?"
    page.route(
        "**/ask/stream",
        lambda route: route.fulfill(status=503, json={"detail": "no index loaded: test"}),
    )
    _ask(page, "Which cloud platforms do pipelines run on?")
    error = page.locator(".bubble.error").last
    assert "no index loaded: test" in error.inner_text()
    page.problems.remove(FAILED_503)  # the browser logs the refused request, as it should
    assert page.input_value("#question") == "Which cloud platforms do pipelines run on?"
    assert _in_view(page, error)
    _shot(page, "desktop-error-retry")
    page.unroute("**/ask/stream")
    done = page.locator(".bubble.assistant:not(.pending)").count()
    error.locator("button.retry").click()
    page.wait_for_function(
        "n => document.querySelectorAll('.bubble.assistant:not(.pending):not(.error)').length >= n",
        arg=done,
    )
    assert page.locator(".bubble.error").count() == 0
    assert "AWS" in page.locator(".bubble.assistant").last.inner_text()
    assert page.input_value("#question") == ""
    assert page.locator(".bubble.user").count() == 3  # the retried question, once


def test_server_down_is_a_clear_message(page):
    page.route("**/ask/stream", lambda route: route.abort())
    _ask(page, "Anything?")
    assert "could not be reached" in page.locator(".bubble.error").last.inner_text()
    page.problems.clear()  # the aborted request is logged by the browser, as it should be


def test_shift_enter_breaks_the_line_and_enter_sends(page):
    assert "Shift+Enter" in page.locator("#keys").inner_text()
    page.click("#question")
    page.keyboard.type("first line")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("second line")
    assert page.input_value("#question") == "first line\nsecond line"
    assert page.locator(".bubble.user").count() == 0
    page.keyboard.press("Enter")
    page.wait_for_selector(".bubble.user")
    assert page.input_value("#question") == ""


def test_a_long_paste_is_kept_and_the_counter_says_it_is_too_long(page):
    page.fill("#question", "x" * 790)
    assert page.locator("#counter").inner_text() == ""
    page.fill("#question", "x" * 850)
    assert page.locator("#counter").inner_text() == "850 / 1,000 characters"
    assert "near" in page.get_attribute("#counter", "class")
    page.fill("#question", "é" * 2000)
    assert len(page.input_value("#question")) == 2000  # nothing cut
    counter = page.locator("#counter").inner_text()
    assert counter == "2,000 / 1,000 characters — too long to send: remove 1,000"
    assert page.is_disabled("#send")
    assert page.get_attribute("#question", "aria-invalid") == "true"
    page.press("#question", "Enter")
    assert page.locator(".bubble").count() == 0
    assert len(page.input_value("#question")) == 2000
    page.fill("#question", "How much do junior data engineers earn?")
    assert page.is_enabled("#send") and page.locator("#counter").inner_text() == ""


# --- feedback --------------------------------------------------------------------------


def test_feedback_from_the_page_appears_in_the_export(page, server):
    from playwright.sync_api import expect

    from .conftest import run_cli

    _ask(page, FOUR[0])
    answer = page.locator(".bubble.assistant").last
    answer.locator("button.rate.down").click()
    answer.locator("textarea.comment").fill("The figure is for another role.")
    answer.locator("button.comment-send").click()
    page.wait_for_function(
        "() => document.querySelector('.status').textContent.startsWith('Thanks')"
    )
    expect(answer.locator("button.rate.down")).to_have_attribute("aria-pressed", "true")
    expect(answer.locator("button.rate.up")).to_be_disabled()
    answer.locator("button.flag").first.click()
    answer.locator("button.comment-send").click()
    # Disabled at once while sending; marked once the server took it and the page saved it.
    expect(answer.locator("button.flag").first).to_have_text("Marked as not supporting it")
    page.reload()  # what was sent stays marked (restored once the page has drawn it)
    answer = page.locator(".bubble.assistant").last
    expect(answer.locator("button.rate.down")).to_have_attribute("aria-pressed", "true")
    expect(answer.locator("button.flag").first).to_be_disabled()

    result = run_cli(server.settings, "feedback", "export", timeout=60)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    mine = [line for line in lines if line["question"] == FOUR[0]]
    assert [m["feedback"]["rating"] for m in mine][-2:] == ["down", "unsupported"]
    down, unsupported = mine[-2:]
    assert down["feedback"]["comment"] == "The figure is for another role."
    assert any("$60,000" in c["text"] for c in down["feedback"]["cited"])
    flagged = int(answer.locator(".source-n").first.inner_text())
    assert [c["n"] for c in unsupported["feedback"]["cited"]] == [flagged]


# --- phone -----------------------------------------------------------------------------


def test_phone_taps_preview_then_open_the_source_over_the_chat(phone):
    page = phone
    placeholder = page.get_attribute("#question", "placeholder")
    assert "Shift" not in placeholder and page.locator("#keys").is_hidden()
    _ask(page, FOUR[0])
    answer = page.locator(".bubble.assistant").last
    marker = answer.locator(".cite-marker").first
    box = marker.bounding_box()
    assert box["width"] >= 44 and box["height"] >= 44  # a finger-sized target
    for button in answer.locator(".actions button").all():
        b = button.bounding_box()
        assert b["height"] >= 36
    marker.tap()
    card = answer.locator(".cite-card").first
    assert card.is_visible() and page.url.endswith("/")  # the first tap previews
    card_box = card.bounding_box()
    assert card_box["x"] >= 0 and card_box["x"] + card_box["width"] <= 390
    _shot(page, "phone-citation-preview")
    card.locator("a.cite-open").tap()
    panel = page.locator("#source-panel")
    assert panel.is_visible()
    side = panel.bounding_box()
    assert side["width"] >= 389 and side["x"] == 0  # over the chat on a narrow screen
    page.frame_locator("#panel-frame").locator("mark#passage").wait_for()
    _shot(page, "phone-source-over-chat")
    page.locator("#panel-close").tap()
    assert panel.is_hidden() and answer.is_visible()
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390  # nothing overflows sideways


def test_phone_error_offers_retry(phone):
    page = phone
    page.route(
        "**/ask/stream",
        lambda route: route.fulfill(status=503, json={"detail": "no index loaded: test"}),
    )
    _ask(page, FOUR[1])
    error = page.locator(".bubble.error").last
    page.problems.remove(FAILED_503)
    assert _in_view(page, error) and error.locator("button.retry").is_visible()
    assert page.input_value("#question") == FOUR[1]
    _shot(page, "phone-error-retry")


def test_phone_width_and_dark_mode(browser, server):
    context = browser.new_context(viewport={"width": 375, "height": 740}, color_scheme="dark")
    page = context.new_page()
    page.goto(server.url + "/")
    _ask(page, "Which cloud platforms do pipelines run on?")
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 375  # nothing overflows sideways
    background = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(22, 23, 26)"
    _shot(page, "phone-dark")
    context.close()


def test_stop_ends_a_slow_answer_and_keeps_the_question(page):
    held = _hold_asks(page)
    page.fill("#question", FOUR[0])
    page.press("#question", "Enter")
    page.wait_for_selector(".bubble.pending")
    assert page.inner_text("#send") == "Stop"
    page.click("#send")
    error = page.locator(".bubble.error")
    error.wait_for()
    assert "stopped before the answer was finished" in error.inner_text()
    assert page.input_value("#question") == FOUR[0]
    assert page.inner_text("#send") == "Ask"
    assert held  # the request was on its way when stopped
    page.unroute("**/ask/stream")
    page.problems.clear()  # the browser logs the aborted request
