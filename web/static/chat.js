// careerqa chat page. Every piece of text from the user or an article goes into the
// page through textContent or createTextNode, never as markup.
"use strict";

(function () {
  const STORE = "careerqa.conversation.v1";
  const KEEP_TURNS = 50; // turns kept across reloads
  const HISTORY_TURNS = 10; // earlier messages sent with a question
  const form = document.getElementById("ask-form");
  const input = document.getElementById("question");
  const send = document.getElementById("send");
  const counter = document.getElementById("counter");
  const conversation = document.getElementById("conversation");
  const intro = document.getElementById("intro");
  const newChat = document.getElementById("new-chat");
  const panel = document.getElementById("source-panel");
  const limit = Number(form.dataset.limit) || 1000;
  let turns = load();
  let busy = false;

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function button(className, text, label) {
    const node = el("button", className, text);
    node.type = "button";
    if (label) node.setAttribute("aria-label", label);
    return node;
  }

  // --- the conversation, kept in localStorage so reloads and opened sources keep it ---

  function load() {
    try {
      const saved = JSON.parse(localStorage.getItem(STORE) || "[]");
      return Array.isArray(saved) ? saved.filter((t) => t && typeof t.question === "string") : [];
    } catch (_) {
      return [];
    }
  }

  function save() {
    turns = turns.slice(-KEEP_TURNS);
    try {
      localStorage.setItem(STORE, JSON.stringify(turns));
    } catch (_) {
      // Storage full or off (private windows): the conversation still works, unsaved.
    }
    newChat.hidden = turns.length === 0;
    intro.hidden = turns.length > 0;
  }

  function historyBefore(turn) {
    const earlier = [];
    for (const t of turns) {
      if (t === turn) break;
      if (!t.data) continue;
      earlier.push({ role: "user", content: t.question }, { role: "assistant", content: t.data.answer });
    }
    return earlier.slice(-HISTORY_TURNS);
  }

  // --- keeping the newest message in view: the conversation scrolls, the form stays ---

  let stuck = true; // the reader is at the end of the conversation
  conversation.addEventListener("scroll", () => {
    stuck = conversation.scrollHeight - conversation.scrollTop - conversation.clientHeight < 40;
  });
  new ResizeObserver(() => stuck && toEnd()).observe(conversation);

  function toEnd() {
    conversation.scrollTop = conversation.scrollHeight;
  }

  function reveal(node) {
    // A message taller than the view shows from its start; others wholly, at the end.
    if (node.offsetHeight > conversation.clientHeight) node.scrollIntoView({ block: "start" });
    else toEnd();
    stuck = conversation.scrollHeight - conversation.scrollTop - conversation.clientHeight < 40;
  }

  // --- sources: a panel beside the chat (over it on a phone), never replacing it ---

  function safeUrl(url) {
    // Citations link only into this app's source view.
    return typeof url === "string" && url.startsWith("/sources/") ? url : "#";
  }

  function panelUrl(url) {
    const [path, hash] = url.split("#");
    return path + (path.includes("?") ? "&" : "?") + "view=panel" + (hash ? "#" + hash : "");
  }

  function openSource(event, citation, opener) {
    // Ctrl/Cmd/Shift-click and middle-click keep the browser's new tab or window.
    if (event.defaultPrevented || event.button > 0 || event.ctrlKey || event.metaKey || event.shiftKey) return;
    const url = safeUrl(citation.url);
    if (url === "#") return;
    event.preventDefault();
    document.getElementById("panel-title").textContent = citation.title;
    document.getElementById("panel-tab").href = url;
    document.getElementById("panel-frame").src = panelUrl(url);
    panel.hidden = false;
    // Focus goes back where it came from for keyboard users (a click by keyboard has
    // detail 0); for a pointer, back to the marker would reopen its card over the answer.
    panel.opener = event.detail === 0 ? opener : null;
    closeCards();
    document.body.classList.add("panel-open");
    document.getElementById("panel-close").focus();
  }

  function closeSource() {
    if (panel.hidden) return;
    panel.hidden = true;
    document.body.classList.remove("panel-open");
    document.getElementById("panel-frame").src = "about:blank";
    panel.opener?.focus();
  }

  function closeCards() {
    document.querySelectorAll(".cite.open").forEach((c) => c.classList.remove("open"));
  }

  function sourceLink(className, text, citation) {
    const link = el("a", className, text);
    link.href = safeUrl(citation.url);
    link.target = "_blank";
    link.rel = "noopener";
    link.addEventListener("click", (event) => openSource(event, citation, link));
    return link;
  }

  function citationMarker(citation) {
    const wrap = el("span", "cite");
    const marker = sourceLink("cite-marker", "[" + citation.n + "]", citation);
    marker.setAttribute("aria-label", "Source " + citation.n + ": " + citation.title);
    marker.addEventListener("click", (event) => {
      // On touch screens the first tap reveals the passage; the link inside opens it.
      if (!wrap.classList.contains("open") && window.matchMedia("(hover: none)").matches) {
        event.preventDefault();
        document.querySelectorAll(".cite.open").forEach((c) => c.classList.remove("open"));
        wrap.classList.add("open");
      }
    }, { capture: true });
    // Hovering opens the card and it stays open while the pointer is over the answer,
    // so the pointer can travel from the marker down to the card's link.
    marker.addEventListener("mouseenter", () => {
      if (window.matchMedia("(hover: none)").matches) return; // taps are handled on click
      document.querySelectorAll(".cite.open").forEach((c) => c !== wrap && c.classList.remove("open"));
      wrap.classList.add("open");
    });
    const card = el("span", "cite-card");
    card.setAttribute("role", "tooltip");
    card.appendChild(el("strong", "cite-title", citation.title));
    if (citation.heading || citation.page) card.appendChild(el("span", "cite-heading", where(citation)));
    card.appendChild(el("span", "cite-text", citation.text));
    const open = sourceLink("cite-open", "Open in the article →", citation);
    open.addEventListener("click", () => {
      if (panel.opener === open) panel.opener = marker; // focus returns to the marker
    });
    card.appendChild(open);
    wrap.append(marker, card);
    return wrap;
  }

  function citedNumbers(answer) {
    return new Set(Array.from(answer.matchAll(/\[(\d+)\]/g), (m) => Number(m[1])));
  }

  function appendCited(node, text, byNumber) {
    text.split(/\[(\d+)\]/).forEach((piece, i) => {
      if (i % 2 === 0) {
        node.appendChild(document.createTextNode(piece));
        return;
      }
      const citation = byNumber.get(Number(piece));
      node.appendChild(citation ? citationMarker(citation) : document.createTextNode("[" + piece + "]"));
    });
  }

  // --- messages ---

  function bubble(kind, label) {
    const node = el("article", "bubble " + kind);
    node.setAttribute("aria-label", label);
    node.appendChild(el("span", "who", kind === "user" ? "You" : "careerqa"));
    conversation.appendChild(node);
    return node;
  }

  function answerText(data) {
    // The answer is plain text: sentences, and a list's items as lines "- item [n]".
    // Lines become paragraphs and list items; nothing in it is read as HTML.
    const byNumber = new Map(data.citations.map((c) => [c.n, c]));
    const body = el("div", "answer-text");
    let list = null;
    data.answer.split("\n").forEach((line) => {
      const item = line.startsWith("- ");
      if (item && !list) {
        list = el("ul", "answer-list");
        body.appendChild(list);
      } else if (!item) {
        list = null;
      }
      const node = el(item ? "li" : "p");
      appendCited(node, item ? line.slice(2) : line, byNumber);
      (item ? list : body).appendChild(node);
    });
    return body;
  }

  function sourceList(turn, cited, actions) {
    const sources = el("ol", "sources");
    sources.setAttribute("aria-label", "Sources");
    cited.forEach((c) => {
      const item = el("li", "source-item");
      item.appendChild(el("span", "source-n", String(c.n)));
      const link = sourceLink("source-link", c.title, c);
      item.appendChild(link);
      if (c.heading || c.page) item.appendChild(el("span", "source-heading", where(c)));
      item.appendChild(el("span", "source-line", c.text));
      const flag = button("flag", "Doesn't support it", "Source " + c.n + " doesn't support the answer");
      if ((turn.feedback?.flagged || []).includes(c.n)) markFlagged(flag);
      flag.addEventListener("click", () => actions.ask(flag, "unsupported", c.n));
      item.appendChild(flag);
      sources.appendChild(item);
    });
    return sources;
  }

  function renderAnswer(node, turn) {
    const data = turn.data;
    node.classList.toggle("declined", !data.answered);
    if (!data.answered) {
      node.appendChild(el("p", "answer-text", data.answer));
    } else {
      node.appendChild(answerText(data));
      node.addEventListener("mouseleave", () => {
        node.querySelectorAll(".cite.open").forEach((c) => c.classList.remove("open"));
      });
    }
    const numbers = citedNumbers(data.answer);
    const cited = data.citations.filter((c) => numbers.has(c.n));
    const actions = feedbackControls(turn, cited);
    if (cited.length) node.appendChild(sourceList(turn, cited, actions));
    node.appendChild(actions.bar);
    node.appendChild(actions.form);
  }

  function renderError(node, turn) {
    node.classList.add("error");
    node.setAttribute("role", "alert");
    node.appendChild(el("p", "error-text", "Sorry — " + turn.error));
    const retry = button("retry", "Retry");
    retry.addEventListener("click", () => {
      if (busy) return;
      turns.splice(turns.indexOf(turn), 1);
      node.previousElementSibling?.remove(); // the question, asked again below
      node.remove();
      if (input.value.trim() === turn.question) setInput("");
      ask(turn.question);
    });
    node.appendChild(retry);
  }

  function renderTurn(turn) {
    bubble("user", "Your question").appendChild(el("p", "user-text", turn.question));
    const node = bubble("assistant", "careerqa's answer");
    if (turn.data) renderAnswer(node, turn);
    else renderError(node, turn);
    return node;
  }

  // --- copy and feedback ---

  // A thumb drawn as SVG: the page needs no emoji font.
  const THUMB = "M2 21h4V9H2v12zm21-11c0-1.1-.9-2-2-2h-6.31l.95-4.57.03-.32c0-.41-.17-.79-.44-1.06" +
    "L14.17 1 7.59 7.59C7.22 7.95 7 8.45 7 9v10c0 1.1.9 2 2 2h9c.83 0 1.54-.5 1.84-1.22l3.02-7.05" +
    "c.09-.23.14-.47.14-.73v-2z";

  function iconButton(className, path, label) {
    const node = button(className, undefined, label);
    node.title = label;
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    const shape = document.createElementNS("http://www.w3.org/2000/svg", "path");
    shape.setAttribute("d", path);
    svg.appendChild(shape);
    node.appendChild(svg);
    return node;
  }

  // "Salaries · p. 4": a passage's heading and, for PDFs, its page.
  function where(c) {
    return [c.heading, c.page ? "p. " + c.page : null].filter(Boolean).join(" · ");
  }

  function plainText(data, cited) {
    let text = data.answer;
    if (cited.length) {
      text += "\n\nSources:";
      cited.forEach((c) => {
        text += "\n[" + c.n + "] " + c.title + (c.heading || c.page ? " — " + where(c) : "");
        text += "\n    " + new URL(safeUrl(c.url), location.href).href;
      });
    }
    return text;
  }

  async function copyText(text) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch (_) {
      const area = el("textarea", "offscreen");
      area.value = text;
      document.body.appendChild(area);
      area.select();
      let copied = false;
      try {
        copied = document.execCommand("copy");
      } catch (_) {
        copied = false;
      }
      area.remove();
      return copied;
    }
  }

  function passage(c) {
    // The fields POST /feedback takes of a citation.
    return { n: c.n, doc_id: c.doc_id, title: c.title, source: c.source, heading: c.heading, text: c.text, url: c.url };
  }

  function markFlagged(flag) {
    flag.textContent = "Marked as not supporting it";
    flag.disabled = true;
  }

  function feedbackControls(turn, cited) {
    const bar = el("div", "actions");
    const copy = button("copy", "Copy", "Copy the answer and its sources");
    const up = iconButton("rate up", THUMB, "Good answer");
    const down = iconButton("rate down", THUMB, "Bad answer");
    const status = el("span", "status");
    status.setAttribute("aria-live", "polite");
    bar.append(copy, up, down, status);
    const form = el("form", "comment-form");
    form.hidden = true;
    const label = el("label", "comment-label");
    const prompt = el("span", "comment-prompt");
    const comment = el("textarea", "comment");
    comment.maxLength = 2000;
    comment.rows = 2;
    label.append(prompt, comment);
    const sendIt = el("button", "comment-send", "Send feedback");
    sendIt.type = "submit";
    const cancel = button("comment-cancel", "Cancel");
    form.append(label, sendIt, cancel);
    let pending = null; // {rating, citation, trigger}

    function rated(rating) {
      up.setAttribute("aria-pressed", String(rating === "up"));
      down.setAttribute("aria-pressed", String(rating === "down"));
      up.disabled = down.disabled = Boolean(rating);
    }
    rated(turn.feedback?.rating);

    copy.addEventListener("click", async () => {
      const done = await copyText(plainText(turn.data, cited));
      copy.textContent = done ? "Copied" : "Copy failed";
      setTimeout(() => (copy.textContent = "Copy"), 2000);
    });
    up.addEventListener("click", () => post({ rating: "up", trigger: up }, ""));
    down.addEventListener("click", () => askComment(down, "down", null));

    function askComment(trigger, rating, citation) {
      pending = { rating, citation, trigger };
      prompt.textContent = rating === "down"
        ? "What was wrong with the answer? (optional)"
        : "What is wrong with source [" + citation + "]? (optional)";
      form.hidden = false;
      comment.focus();
    }

    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (pending) post(pending, comment.value);
    });
    cancel.addEventListener("click", () => {
      form.hidden = true;
      pending?.trigger.focus();
      pending = null;
    });

    async function post(mark, text) {
      mark.trigger.disabled = true;
      status.textContent = "Sending…";
      const body = {
        rating: mark.rating,
        question: turn.question,
        answer: turn.data.answer,
        answered: turn.data.answered,
        citations: cited.map(passage),
        history: historyBefore(turn),
        comment: text.trim(),
      };
      if (mark.rating === "unsupported") body.citation = passage(cited.find((c) => c.n === mark.citation));
      const result = await postJson("/feedback", body);
      if (!result.ok) {
        mark.trigger.disabled = false;
        status.textContent = "Feedback not sent — " + result.error;
        return;
      }
      status.textContent = "Thanks — your feedback was sent.";
      form.hidden = true;
      comment.value = "";
      turn.feedback = turn.feedback || { rating: null, flagged: [] };
      if (mark.rating === "unsupported") {
        turn.feedback.flagged.push(mark.citation);
        markFlagged(mark.trigger);
      } else {
        turn.feedback.rating = mark.rating;
        rated(mark.rating);
      }
      save();
    }

    return { bar, form, ask: askComment };
  }

  // --- asking ---

  function describeError(status, payload) {
    const detail = payload && payload.detail;
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail) && detail.length) {
      return detail.map((d) => (d.loc ? d.loc.slice(1).join(".") + ": " : "") + d.msg).join("; ");
    }
    return "the server answered with status " + status + ".";
  }

  async function jsonOf(response) {
    // The body as JSON, or null when it is not JSON (a proxy's error page, say).
    try {
      return await response.json();
    } catch (_) {
      return null;
    }
  }

  async function postJson(url, body) {
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      const payload = await jsonOf(response);
      if (!response.ok || !payload) return { ok: false, error: describeError(response.status, payload) };
      return { ok: true, payload };
    } catch (_) {
      return { ok: false, error: "the server could not be reached. Check that careerqa is running." };
    }
  }

  // /ask/stream: `citations`, then `delta` pieces (a generated draft, shown as it
  // comes), then `done` with the checked answer, which replaces the draft.
  async function streamAnswer(body, pendingNode, signal) {
    let response;
    try {
      response = await fetch("/ask/stream", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
        signal,
      });
    } catch (_) {
      return signal.aborted ? { ok: false, error: STOPPED } : { ok: false, error: UNREACHABLE };
    }
    if (!response.ok) return { ok: false, error: describeError(response.status, await jsonOf(response)) };
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    let draft = null;
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const name = (block.match(/^event: (.*)$/m) || [])[1];
          const data = JSON.parse((block.match(/^data: (.*)$/m) || [])[1] || "null");
          if (name === "done") return { ok: true, payload: data };
          if (name === "error") return { ok: false, error: data.detail };
          if (name === "delta") {
            if (!draft) {
              pendingNode.querySelector(".waiting")?.remove();
              draft = el("p", "draft");
              pendingNode.appendChild(draft);
            }
            draft.textContent += data.text;
            if (stuck) toEnd();
          }
        }
      }
    } catch (_) {
      return { ok: false, error: signal.aborted ? STOPPED : UNREACHABLE };
    }
    return { ok: false, error: "the answer ended before it was finished." };
  }

  const STOPPED = "stopped before the answer was finished.";
  const UNREACHABLE = "the server could not be reached. Check that careerqa is running.";
  let controller = null;

  async function ask(question) {
    question = question.trim();
    if (busy || !question) return;
    busy = true;
    controller = new AbortController();
    setBusy(true);
    const turn = { question };
    const history = historyBefore(null);
    intro.hidden = true;
    bubble("user", "Your question").appendChild(el("p", "user-text", question));
    const pendingNode = bubble("assistant pending", "careerqa is answering");
    pendingNode.setAttribute("aria-busy", "true");
    pendingNode.append(el("span", "spinner"), el("span", "waiting", "Looking through the articles…"));
    reveal(pendingNode);
    const result = await streamAnswer({ question, top_k: 5, history }, pendingNode, controller.signal);
    pendingNode.previousElementSibling.remove();
    pendingNode.remove();
    if (result.ok) turn.data = result.payload;
    else turn.error = result.error;
    turns.push(turn);
    save();
    const node = renderTurn(turn);
    reveal(node);
    if (!result.ok && !input.value.trim()) setInput(question); // nothing typed since: keep it
    busy = false;
    controller = null;
    setBusy(false);
    input.focus();
  }

  function setBusy(on) {
    // While an answer comes, the Ask button is a Stop button.
    send.textContent = on ? "Stop" : "Ask";
    send.classList.toggle("stop", on);
    updateCounter();
  }

  // --- the input: Enter sends, a counter warns before the limit ---

  function length() {
    return Array.from(input.value.trim()).length;
  }

  function updateCounter() {
    const n = length();
    const over = n > limit;
    counter.classList.toggle("near", n >= limit * 0.8 && !over);
    counter.classList.toggle("over", over);
    counter.textContent = n >= limit * 0.8
      ? n.toLocaleString("en") + " / " + limit.toLocaleString("en") + " characters" +
        (over ? " — too long to send: remove " + (n - limit).toLocaleString("en") : "")
      : "";
    input.setAttribute("aria-invalid", String(over));
    send.disabled = !busy && over;
  }

  function setInput(value) {
    input.value = value;
    resize();
    updateCounter();
  }

  function resize() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 200) + "px";
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (busy) {
      if (event.submitter === send) controller?.abort(); // the Stop button
      return;
    }
    if (length() > limit) {
      updateCounter();
      return;
    }
    const question = input.value;
    setInput("");
    ask(question);
  });

  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  input.addEventListener("input", () => {
    resize();
    updateCounter();
  });

  document.querySelectorAll("button.example").forEach((example) => {
    example.addEventListener("click", () => ask(example.textContent));
  });

  newChat.addEventListener("click", () => {
    turns = [];
    save();
    conversation.querySelectorAll(".bubble").forEach((b) => b.remove());
    closeSource();
    setInput("");
    input.focus();
  });

  document.getElementById("panel-close").addEventListener("click", closeSource);
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    closeCards();
    closeSource();
  });
  document.addEventListener("click", (event) => {
    if (!event.target.closest(".cite")) {
      document.querySelectorAll(".cite.open").forEach((c) => c.classList.remove("open"));
    }
  });

  turns.forEach(renderTurn);
  save();
  toEnd();
  updateCounter();
})();
