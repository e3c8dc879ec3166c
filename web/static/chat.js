// careerqa chat page. Every piece of text from the user or an article goes into the
// page through textContent or createTextNode, never as markup.
"use strict";

(function () {
  const form = document.getElementById("ask-form");
  const input = document.getElementById("question");
  const send = document.getElementById("send");
  const conversation = document.getElementById("conversation");
  const history = [];
  let busy = false;

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function scrollDown() {
    conversation.lastElementChild?.scrollIntoView({ block: "end", behavior: "smooth" });
  }

  function safeUrl(url) {
    // Citations link only into this app's source view.
    return typeof url === "string" && url.startsWith("/sources/") ? url : "#";
  }

  function citationMarker(citation) {
    const wrap = el("span", "cite");
    const marker = el("a", "cite-marker", "[" + citation.n + "]");
    marker.href = safeUrl(citation.url);
    marker.setAttribute("aria-label", "Source " + citation.n + ": " + citation.title);
    marker.addEventListener("click", (event) => {
      // On touch screens the first tap reveals the passage; the link inside opens it.
      if (!wrap.classList.contains("open") && window.matchMedia("(hover: none)").matches) {
        event.preventDefault();
        document.querySelectorAll(".cite.open").forEach((c) => c.classList.remove("open"));
        wrap.classList.add("open");
      }
    });
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
    if (citation.heading) card.appendChild(el("span", "cite-heading", citation.heading));
    card.appendChild(el("span", "cite-text", citation.text));
    const open = el("a", "cite-open", "Open in the article →");
    open.href = safeUrl(citation.url);
    card.appendChild(open);
    wrap.append(marker, card);
    return wrap;
  }

  function appendCited(node, text, byNumber, cited) {
    text.split(/\[(\d+)\]/).forEach((piece, i) => {
      if (i % 2 === 0) {
        node.appendChild(document.createTextNode(piece));
        return;
      }
      const citation = byNumber.get(Number(piece));
      cited.add(Number(piece));
      node.appendChild(citation ? citationMarker(citation) : document.createTextNode("[" + piece + "]"));
    });
  }

  function renderAnswer(bubble, data) {
    bubble.replaceChildren();
    bubble.classList.remove("pending");
    bubble.removeAttribute("aria-busy");
    if (!data.answered) {
      bubble.classList.add("declined");
      bubble.appendChild(el("p", "answer-text", data.answer));
      return;
    }
    // The answer is plain text: sentences, and a list's items as lines "- item [n]".
    // Lines become paragraphs and list items; nothing in it is read as HTML.
    const byNumber = new Map(data.citations.map((c) => [c.n, c]));
    const cited = new Set();
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
      appendCited(node, item ? line.slice(2) : line, byNumber, cited);
      (item ? list : body).appendChild(node);
    });
    bubble.appendChild(body);
    bubble.addEventListener("mouseleave", () => {
      bubble.querySelectorAll(".cite.open").forEach((c) => c.classList.remove("open"));
    });
    const sources = el("ol", "sources");
    data.citations
      .filter((c) => cited.has(c.n))
      .forEach((c) => {
        const item = el("li");
        item.value = c.n;
        const link = el("a", null, c.title + (c.heading ? " — " + c.heading : ""));
        link.href = safeUrl(c.url);
        item.appendChild(link);
        sources.appendChild(item);
      });
    if (sources.children.length) {
      const details = el("details", "sources-box");
      details.appendChild(el("summary", null, "Sources"));
      details.appendChild(sources);
      bubble.appendChild(details);
    }
  }

  function renderError(bubble, message) {
    bubble.replaceChildren(el("p", "error-text", message));
    bubble.classList.remove("pending");
    bubble.classList.add("error");
    bubble.removeAttribute("aria-busy");
    bubble.setAttribute("role", "alert");
  }

  function describeError(status, payload) {
    const detail = payload && payload.detail;
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail) && detail.length) {
      return detail.map((d) => (d.loc ? d.loc.slice(1).join(".") + ": " : "") + d.msg).join("; ");
    }
    return "The server answered with status " + status + ".";
  }

  async function ask(question) {
    if (busy) return;
    question = question.trim();
    if (!question) return;
    busy = true;
    send.disabled = true;
    document.getElementById("intro")?.remove();
    conversation.appendChild(el("div", "bubble user", question));
    const bubble = el("div", "bubble assistant pending");
    bubble.setAttribute("aria-busy", "true");
    bubble.appendChild(el("span", "spinner"));
    bubble.appendChild(el("span", "waiting", "Looking through the articles…"));
    conversation.appendChild(bubble);
    scrollDown();
    try {
      const response = await fetch("/ask", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ question: question, top_k: 5, history: history.slice(-10) }),
      });
      let payload = null;
      try {
        payload = await response.json();
      } catch (_) {
        payload = null;
      }
      if (!response.ok || !payload) {
        renderError(bubble, "Sorry — " + describeError(response.status, payload));
      } else {
        renderAnswer(bubble, payload);
        history.push({ role: "user", content: question });
        history.push({ role: "assistant", content: payload.answer });
      }
    } catch (err) {
      renderError(bubble, "Sorry — the server could not be reached. Check that careerqa is running.");
    } finally {
      busy = false;
      send.disabled = false;
      scrollDown();
      input.focus();
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const question = input.value;
    input.value = "";
    resize();
    ask(question);
  });

  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  function resize() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 200) + "px";
  }
  input.addEventListener("input", resize);

  document.querySelectorAll("button.example").forEach((button) => {
    button.addEventListener("click", () => ask(button.textContent));
  });

  document.addEventListener("click", (event) => {
    if (!event.target.closest(".cite")) {
      document.querySelectorAll(".cite.open").forEach((c) => c.classList.remove("open"));
    }
  });
})();
