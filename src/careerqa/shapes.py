"""What a question asks for: a list, a definition, a figure, yes or no, a comparison, steps.

Recognised from the wording of the question's last sentence (persona questions put
the context first: "I'm 35 and in accounting. Is it realistic to switch?"). The
rules are general English question forms, checked in order, first match wins.
"""

from __future__ import annotations

import re

SHAPES = ("comparison", "figure", "yes/no", "definition", "steps", "list", "other")

_COMPARISON = re.compile(
    r"\b(?:vs\.?|versus|compared? (?:to|with)|differ(?:s|ence)?\b|different from|"
    r"apart from|what (?:sets|separates|distinguishes)|better|more important|"
    r"matters? more|rather than|instead of)\b"
    r"|^\s*[\w' .+#-]{1,40}\bor\b[\w' .+#-]{1,40}[:?]"  # "Python or R: which…", "A or B?"
    r"|\b\w+\s+or\s+\w+[^.?!]*\?\s*$",
    re.I,
)
_FIGURE = re.compile(
    r"\bhow (?:much|many|long|fast|often|old)\b|\b(?:salary|salaries|earn|earns|pay|paid|"
    r"wage|income|cost|costs|tuition|fee|fees|price|percent|percentage|median|average|"
    r"growth rate|how soon)\b|\bwhen (?:was|is|did|will)\b|\bover what period\b|\bwhat year\b",
    re.I,
)
_YES_NO = re.compile(
    r"^\s*(?:do|does|did|is|are|was|were|can|could|should|will|would|has|have|am|must|"
    r"need)\b",
    re.I,
)
# A hedge after the question word: "what even is…", "what exactly does…".
HEDGE = r"(?:even|exactly|actually|really|precisely)"
_DEFINITION = re.compile(
    rf"^\s*(?:what(?:'s|(?:\s+{HEDGE})?\s+(?:is|does))|define|"
    r"explain)\s+(?:an?\s+)?(?!the\b)"
    r"(?P<term>[\w' +#-]{1,40}?)(?:\s+mean|\s+in [\w ]+)?\s*[?.]?\s*$"
    r"|\bmeaning of\b|\bwhat does [\w' +#-]+ mean\b",
    re.I,
)
_STEPS = re.compile(
    r"\bhow (?:do|can|should|would) (?:i|you|one|we)\b|^\s*how to\b|\bsteps?\b|"
    r"\bprocess (?:of|for)\b|\bwhat (?:should|can) i do\b|\bwhere (?:do|should|can) i start\b",
    re.I,
)
_LIST = re.compile(
    r"^\s*(?:which|what)\s+(?:\w+\s+){0,3}?\w{3,}s\b|\bwhat are (?:some|the)\b|"
    r"\bname (?:the|some)\b|\blist\b|\bwhat kinds? of\b|\bwhat types? of\b|\bexamples? of\b",
    re.I,
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)")


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text.strip()) if s.strip()]


def last_question(text: str) -> str:
    """The sentence that asks: the last one ending in "?", else the last sentence."""
    sentences = _sentences(text)
    asking = [s for s in sentences if s.endswith("?")]
    return (asking or sentences or [""])[-1]


def earlier_questions(text: str) -> list[str]:
    """The questions asked before the last one ("How many hours…? Is the balance good?")."""
    return [s for s in _sentences(text) if s.endswith("?")][:-1]


def question_shape(question: str) -> str:
    """One of SHAPES for a question."""
    ask = last_question(question)
    if _COMPARISON.search(_clauses(ask)[-1]):
        return "comparison"
    if _FIGURE.search(ask):
        return "figure"
    if _YES_NO.match(ask):
        return "yes/no"
    definition = _DEFINITION.search(ask)
    if definition and len((definition.group("term") or "x").split()) <= 4:
        return "definition"
    if _STEPS.search(ask):
        return "steps"
    if _LIST.search(ask):
        return "list"
    return "other"


# --- what a figure question asks for, and whether a sentence gives it ---------------

_NUMBER_WORD = (
    r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"(?:thir|four|fif|six|seven|eigh|nine)teen|(?:twen|thir|for|fif|six|seven|eigh|nine)ty|"
    r"hundred|dozen|a couple|a few|several|pair|trio|quartet|handful)"
)
# "40", "forty", "12-16", "twelve to sixteen"
_AMOUNT = rf"(?:\d+|{_NUMBER_WORD})(?:\s*(?:-|–|to)\s*(?:\d+|{_NUMBER_WORD}))?"
_TIME_UNIT = r"(?:hours?|days?|weeks?|months?|years?|semesters?|terms?)"
_MONEY_ASKED = re.compile(
    r"\bhow much\b(?!\s+(?:time|experience|math|maths|work|effort))"
    r"|\b(?:salary|salaries|tuition|cost|costs|price|fee|fees|wage|wages|income|compensation|"
    r"earnings)\b|\bpay (?:band|range|scale|bracket|grade|level)s?\b",
    re.I,
)
# A price ("How much do bootcamps cost?", "the tuition for…") is money paid for
# something, not pay: a sentence giving one says so ("costs", "tuition", "a fee of").
_COST = re.compile(
    r"\b(?:costs?|costing|tuition|prices?|priced|fees?|expensive|cheap\w*|afford\w*)\b", re.I
)


def asks_cost(question: str) -> bool:
    """Does a money question ask what something costs, rather than what someone earns?"""
    return bool(_COST.search(last_question(question)))


def states_cost(text: str) -> bool:
    """Does a sentence speak of what something costs?"""
    return bool(_COST.search(text))


_KINDS: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {
    # kind: (the question asks for it, a sentence gives it)
    # First: "When was the article on salaries published?" asks for a date, not money.
    "date": (
        re.compile(r"\bwhen (?:was|is|did|were)\b|\bwhat year\b|\bwhat date\b", re.I),
        re.compile(r"\b(?:19|20)\d\d\b"),
    ),
    "hours": (
        re.compile(r"\bhow many hours\b|\bhours? (?:a|per) (?:week|day)\b", re.I),
        re.compile(rf"\b{_AMOUNT}\s*hours?\b", re.I),
    ),
    "money": (
        _MONEY_ASKED,
        re.compile(r"[$€£¥₹]\s?\d|\b\d[\d,.]*\s?(?:k|usd|dollars|euros)\b", re.I),
    ),
    "duration": (
        re.compile(r"\bhow long\b|\bover what period\b|\bhow many (?:years|months|weeks)\b", re.I),
        re.compile(
            rf"\b{_AMOUNT}\s*{_TIME_UNIT}\b"
            rf"|\b(?:within|in|over|a few|several)\s+{_TIME_UNIT}\b|\b(?:19|20)\d\d\b",
            re.I,
        ),
    ),
    # A share: "What % of…", "By what percentage…".
    "percent": (
        re.compile(
            r"\b(?:what|by what|how many)\s*(?:%|percent(?:age)?\b|share of|proportion of)", re.I
        ),
        re.compile(r"\d\s*(?:%|percent\b)", re.I),
    ),
    # An exam's pass mark: "What score do you need to pass…?"
    "score": (
        re.compile(
            r"\b(?:passing|pass|minimum|qualifying|cut-?off) (?:score|mark|grade)\b"
            r"|\bwhat (?:score|mark|grade)\b",
            re.I,
        ),
        re.compile(r"\b(?:score|mark|grade) of \d|\d\s*(?:%|percent\b|points?\b|out of \d)", re.I),
    ),
    "count": (
        re.compile(r"\bhow many\b", re.I),
        re.compile(rf"\b\d+\b|\b{_NUMBER_WORD}\b", re.I),
    ),
}
# Words that say which figure of a kind is asked for or given, by the figure they
# mean: a beginner's pay ("junior", "entry-level"), an experienced one's ("senior", "a
# few years under their belt"), the middle one, the average, the top.
QUALIFIERS: dict[str, re.Pattern[str]] = {
    "entry": re.compile(
        r"\b(?:entry[- ]level|junior|starting (?:salar\w+|pay|wages?|out)|beginners?|first job|"
        r"new grad\w*|"
        r"(?:right )?out of (?:college|school|university|the gate))\b",
        re.I,
    ),
    "experienced": re.compile(
        r"\b(?:senior|experienced|(?:more|significant|extensive|considerable|years of) experience|"
        r"(?:a few|several|many|\d+|two|three|four|five|ten)"
        r"(?: or more)? years (?:of experience|in|under|on))\b",
        re.I,
    ),
    "mid": re.compile(r"\bmid[- ]level\b", re.I),
    "average": re.compile(r"\b(?:average|median|typical)\b", re.I),
    "top": re.compile(r"\b(?:highest|top)\b", re.I),
    "lowest": re.compile(r"\blowest\b", re.I),
}


def qualifiers(text: str) -> set[str]:
    """Which figures of a kind a text asks for or gives ("entry", "experienced"…)."""
    return {name for name, said in QUALIFIERS.items() if said.search(text)}


def figure_kind(question: str) -> str | None:
    """The kind of figure a question asks for ("money", "duration", …), or None."""
    ask = last_question(question)
    if _LIST.search(ask) and not re.search(r"\bhow (?:much|many|long)\b", ask, re.I):
        return None  # "Which cities pay the most?" asks for names, not a figure
    for kind, (asked, _) in _KINDS.items():
        if asked.search(ask):
            return kind
    return None


# "How many core requirements does…": the words naming what is counted.
_COUNTED = re.compile(
    r"\bhow many\s+(?P<things>(?:[a-z][\w-]*\s+){0,5}?[a-z][\w-]*?)"
    r"(?=\s+(?:do|does|did|are|is|was|were|can|could|will|would|should|have|has|had|per|a|an|"
    r"the|in|of|for|on|until|before|after|i|you|we|they|it)\b|\s*[?,.!]|\s*$)",
    re.I,
)


def counted(question: str) -> str | None:
    """What a "How many…" question counts ("core requirements"), or None: the words up
    to the first plural ("versions" of "versions stay saved"), else the first word."""
    found = _COUNTED.search(last_question(question))
    if not found:
        return None
    words = found.group("things").split()
    plural = next((i for i, w in enumerate(words) if re.search(r"[^siu]s$", w)), None)
    return " ".join(words[:1] if plural is None else words[: plural + 1])


# Whose pay a question asks for: "the salary of a data scientist", "How much do data
# analysts earn?", "a DevOps engineer's salary", "the pay gap between A and B". A noun
# phrase is up to five words that are not function words ("How much can I expect to
# make?" names nobody).
_FUNCTION = (
    r"(?:how|much|many|what|what's|which|who|do|does|did|can|could|will|would|should|might|"
    r"is|are|was|were|be|the|an?|i|you|we|they|he|she|it|one|my|your|our|their|this|that|"
    r"these|those|to|of|for|in|at|on|and|or|with|expect|make|earn|get|typically|usually)"
)
_WORD = rf"(?!{_FUNCTION}\b)[\w'/-]+"
_PAID = r"(?:salary|salaries|pay|wages?|income|earnings|compensation)"


def _paid_phrase(name: str) -> str:
    return rf"(?<![\w'/-])(?:(?:an?|the)\s+)?(?P<{name}>(?:{_WORD}\s+){{0,4}}?{_WORD})"


_PAID_WHOM = (
    re.compile(
        rf"\b{_PAID}\s+(?:of|for)\s+{_paid_phrase('a')}(?=\s+(?!{_WORD})|\s*[?,.!;]|\s*$)", re.I
    ),
    re.compile(
        rf"\b{_PAID}\s+(?:difference|gap)\s+between\s+{_paid_phrase('a')}\s+and\s+"
        rf"{_paid_phrase('b')}(?=\s*[?,.!;]|\s*$|\s+(?!{_WORD}))",
        re.I,
    ),
    re.compile(
        rf"\b(?:how much|what(?:\s+{_PAID})?)\s+(?:do|does|can|could|will|would|might|should)\s+"
        rf"{_paid_phrase('a')}\s+(?:\w+ly\s+)?(?:make|earn|get paid|be paid|take home|expect)\b",
        re.I,
    ),
    re.compile(rf"{_paid_phrase('a')}['’]s?\s+(?:salary|salaries|wages?|pay)\b", re.I),
)
# "the data engineer salary": a compound, whose words may name a kind of pay instead
# ("the median annual salary"); the caller decides.
_PAID_COMPOUND = re.compile(
    rf"{_paid_phrase('a')}(?<!['’]s)(?<!['’])\s+(?:salary|salaries|wages?)\b", re.I
)


def paid_whom(question: str) -> tuple[list[str], list[str]]:
    """Whose pay a question asks for, as it names them: the phrases said of a person
    ("data scientist" of "How much does a data scientist make?"), and those said
    before "salary" ("data engineer", "median annual"), which may be either."""
    ask = last_question(question)
    named: list[str] = []
    for pattern in _PAID_WHOM:
        for found in pattern.finditer(ask):
            named += [p for p in found.groupdict().values() if p and p not in named]
    compounds = [f.group("a") for f in _PAID_COMPOUND.finditer(ask)]
    return named, [c for c in compounds if c not in named]


# What a "how long" question times: "How long does a master's in ML take?", "How long
# are bootcamps?", "How many years does a PhD last?". "How long does it take to…" times
# whatever the rest says, and is left to the figure rule alone.
_SUBJECT = r"(?P<a>[\w'’/-]+(?:\s+[\w'’/-]+){0,5}?)"
_TIMED_WHAT = (
    re.compile(
        rf"\b(?:how long|how many (?:years|months|weeks))\s+(?:does|do|did|will|would|can|"
        rf"could|should|might|is|are)\s+{_SUBJECT}\s+(?:\w+ly\s+)?(?:take|last)\b",
        re.I,
    ),
    re.compile(rf"\bhow long (?:is|are|was|were)\s+{_SUBJECT}\s*(?:[?,.!;]|$)", re.I),
    re.compile(rf"\b(?:duration|length) of\s+{_SUBJECT}\s*(?:[?,.!;]|$)", re.I),
)
_PRONOUN = re.compile(r"^(?:it|this|that|i|you|we|they|he|she|one)$", re.I)


def timed_what(question: str) -> list[str]:
    """What a duration question asks the length of, as it names it ("a masters in
    machine learning"), or nothing when it names nothing ("How long does it take?")."""
    ask = last_question(question)
    found = (p.search(ask) for p in _TIMED_WHAT)
    return [f.group("a") for f in found if f and not _PRONOUN.match(f.group("a"))]


# What a "when" question dates, and the event: "When was the nursing article last
# updated?" → ("the nursing article", "updated"). A date answers it only from a
# sentence that tells of that event about that thing: "In 2018, its median pay was…"
# dates no article's publication.
_DATED_WHAT = re.compile(
    rf"\bwhen (?:was|were|is|are|has|have)\s+{_SUBJECT}\s+(?:been\s+)?"
    r"(?:(?:\w+ly|last|first)\s+)?(?P<event>[a-z]\w+(?:ed|en|wn|lt|ot))\s*(?:[?,.!;]|$)",
    re.I,
)


_DOCUMENT = re.compile(r"\b(?:article|post|page|blog|guide|piece|story|text)s?\b", re.I)


def _naming_something(pattern: re.Pattern[str], question: str) -> re.Match[str] | None:
    """The pattern's match in the asking sentence, unless what it names ("a") is a pronoun."""
    found = pattern.search(last_question(question))
    return None if found is None or _PRONOUN.match(found.group("a")) else found


def dated_what(question: str) -> tuple[str, str] | None:
    """What a "when" question dates and the event it asks the date of, if it says."""
    found = _naming_something(_DATED_WHAT, question)
    if found is None:
        return None
    # The document itself is not a word a passage of it says: "the nursing article".
    thing = _DOCUMENT.sub(" ", found.group("a"))
    return thing, found.group("event")


# What a "What does X involve?" question asks the makeup of: "What does feature
# engineering / data preprocessing involve in practice?" → "feature engineering / data
# preprocessing"; "what does that involve?" names nothing.
_INVOLVED_WHAT = re.compile(
    r"\bwhat (?:does|do|did|will|would|can|could|might)\s+(?P<a>.+?)\s+(?:\w+ly\s+)?"
    r"(?:involve|entail|consist)\b",
    re.I,
)


def involved_what(question: str) -> str | None:
    """What a "What does X involve?" question names, if it names something."""
    found = _naming_something(_INVOLVED_WHAT, question)
    return found.group("a") if found else None


# What an "Is there…?" question asks the existence of: "Is there a labor union for
# engineers?" → "labor union". Its last word names the thing; "labor" only says which.
# The thing is one of the first two words: "Are there particular tools analysts use?".
_EXISTS = re.compile(
    r"\b(?:is|are) there\s+(?:(?:an?|any|some|such)\s+)?(?P<a>[a-z][\w-]*(?:\s+[a-z][\w-]*)*?)"
    r"\s*(?:\b(?:for|in|of|that|to|among|at|with|who|which|when|where|like|between|on)\b|[?,.!;]|$)",
    re.I,
)


def asked_to_exist(question: str) -> str | None:
    """The word naming what an "Is there…?" question asks the existence of, if it asks."""
    found = _EXISTS.search(last_question(question))
    if found is None:
        return None
    # "Is there much math involved?": a participle after the thing says how it is.
    words = [w for w in found.group("a").split() if not re.search(r"(?:ing|ed)$", w, re.I)]
    return words[:2][-1] if words else None


# "$120,000", "120k", "21%", "2018", "3.5": the figures a sentence states.
_STATED = re.compile(r"[$£€]?\d[\d,]*(?:\.\d+)?\s*(?:%|percent|k\b|K\b)?")


def figures(text: str) -> set[str]:
    """The figures a text states, normalised: "$120,000" → "120000", "21 %" → "21%"."""
    found = set()
    for match in _STATED.finditer(text):
        raw = match.group().lower().replace(",", "").replace(" ", "")
        raw = raw.lstrip("$£€").replace("percent", "%")
        if raw.endswith("k"):
            raw = raw[:-1] + "000"
        found.add(raw.rstrip("."))
    return found


def gives_figure(text: str, kind: str) -> bool:
    """Does a sentence state a figure of this kind?"""
    return bool(_KINDS[kind][1].search(text))


# --- what a definition defines; what a comparison compares ---------------------------

_COMPARED = re.compile(
    r"^(?:(?:for|in|as|when)\b[^,:]*[,:]\s*)?(?:how (?:does|do|is|are|did)\s+)?"
    r"(?:(?:what|which)\b[^:]*?:\s*|"
    r"(?:should i|do i|is it better to|would you)\s+(?:\w+\s+){0,2}?)?"
    r"(?P<a>[\w' .+#-]{2,60}?)\s+(?:or|vs\.?|versus|compared? (?:to|with))\s+"
    r"(?P<b>[\w' .+#-]{1,60}?)\s*(?:[:?,]|\s[-–—]\s|$)",
    re.I,
)
_DIFFER = re.compile(
    r"\b(?:how (?:does|do|is|are)\s+)(?P<a>[\w' .+#-]{2,60}?)\s+(?:differ|different)\s+from\s+"
    r"(?P<b>[\w' .+#-]{2,60}?)\s*[?.]?$"
    r"|\bwhat (?:sets|separates|distinguishes)\s+(?P<e>[\w' .+#-]{2,60}?)\s+(?:apart\s+)?from\s+"
    r"(?P<f>[\w' .+#-]{2,60}?)\s*[?.]?$"
    r"|\bdifference between\s+(?P<c>[\w' .+#-]{2,60}?)\s+and\s+(?P<d>[\w' .+#-]{2,60}?)\s*[?.]?$",
    re.I,
)


def definition_term(question: str) -> str | None:
    """What a "What is X?" question asks to define."""
    found = _DEFINITION.search(last_question(question))
    term = found.group("term") if found else None
    if term:
        term = re.sub(rf"\s*\b{HEDGE}\b", "", term, flags=re.I)  # "…actually involve"
    return term.strip() if term and len(term.split()) <= 4 else None


# "If I do a masters in ML or data science, what topics…": the "or" is in the condition.
_CONDITION = re.compile(r"^\s*(?:if|when|once|after|before|since|while)\b[^,?]*,\s*", re.I)


# What weighs a choice in the main clause: "If I had to pick Python or R, which is better?"
_CHOICE = re.compile(
    r"\b(?:which (?:one|is|of (?:them|the two|these))|better|rather|prefer|or|vs\.?|versus|"
    r"matters? mo(?:re|st))\b",
    re.I,
)


def _clauses(ask: str) -> tuple[str, ...]:
    """Where a comparison is looked for: the question without a leading condition ("If
    …, "), then the whole question when the main clause weighs a choice the condition
    holds ("If I had to pick Python or R, which is better?")."""
    main = _CONDITION.sub("", ask, count=1)
    return (main, ask) if main != ask and _CHOICE.search(main) else (main,)


def compared(question: str) -> tuple[str, str] | None:
    """The two things a comparison question weighs against each other."""
    for text in _clauses(last_question(question)):
        found = _DIFFER.search(text)
        if found:
            a, b = next(found.group(x, y) for x, y in ("ab", "cd", "ef") if found.group(x))
            return a.strip(), b.strip()
        found = _COMPARED.search(text)
        if found:
            return found.group("a").strip(), found.group("b").strip()
    return None


_LIST_NOUN = re.compile(
    r"^\s*(?:which|what)\s+(?:(?:kinds?|types?|sorts?) of\s+)?(?:\w+\s+){0,2}(?P<a>\w{3,}s)\b"
    r"|\bwhat are (?:some|the)\s+(?:\w+\s+){0,2}(?P<b>\w{3,}s)\b"
    r"|\bname (?:the|some)\s+(?:\w+\s+){0,3}(?P<c>\w{3,}s)\b",
    re.I,
)


_WHERE = re.compile(r"^\s*where\b|\bwhere (?:can|should|do|does|would|could) (?:i|you|one)\b", re.I)


def asks_where(question: str) -> bool:
    """Does the question ask where (a place, a platform) rather than what or how?"""
    return bool(_WHERE.search(last_question(question)))


def list_noun(question: str) -> str | None:
    """The things a list question asks for: "industries" in "Which industries use ML?"."""
    found = _LIST_NOUN.search(last_question(question))
    if not found:
        return None
    noun = found.group("a") or found.group("b") or found.group("c")
    return None if noun.lower() in {"does", "was", "has", "is", "this", "its"} else noun
