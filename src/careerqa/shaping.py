"""Answer shapes: which units make the answer, given what the question asks for.

The units (units.py) come ranked by how well they match the question. Every unit
close to the best one is a fair answer; the question's shape (shapes.py) picks among
them: a list question gets the sentence that announces a list, with its items; a
definition the sentence that defines the term; a figure question the sentence that
states a figure of the asked kind (and none at all when no close unit states one);
a comparison a sentence on each side.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .lexical import TOPIC_SHARE, LexicalIndex, terms
from .sentences import ListSpan, SentenceTable
from .shapes import (
    QUALIFIERS,
    asked_to_exist,
    asks_cost,
    asks_where,
    compared,
    counted,
    dated_what,
    definition_term,
    earlier_questions,
    figure_kind,
    figures,
    gives_figure,
    involved_what,
    last_question,
    list_noun,
    paid_whom,
    qualifiers,
    question_shape,
    states_cost,
    timed_what,
)
from .units import Unit
from .vocabulary import spelled_out

# Units this much below the best still answer the question; the shape picks among them.
CLOSE = 0.12
# Units this close to the best are given too when they say something new.
MORE = CLOSE + 0.03
# A definition or the other side of a comparison may come from a little further down.
FURTHER = 0.25
# Units nearly as similar to each other as this say the same thing, unless they state
# different figures ("$70,000–$90,000" for beginners, "$100,000–$150,000" on average).
DUPLICATE = 0.85
# A list item labelled with what the question names is its answer from further down still.
NAMED = 0.35
MAX_ITEMS = 8
# Close units that are items of one list make the list the answer to a steps question.
LIST_ITEMS_CLOSE = 3
# A unit with the sentence that qualifies it stays within the default sentence limit.
MAX_GROUP = 3
# A word used by more than this share of passages is the corpus' topic, not a side.
COMMON = 0.25
# A list item's label: "Statistics: …", or "Production Code - …" (a dash, spaced; read
# as a label only in a list item, where prose's "hard - but doable" does not occur).
_LABEL = re.compile(r"^(?:([^:]{2,50}):|([A-Z][^:]{1,49}?)\s[-–—])\s")
_COLON_LABEL = re.compile(r"^([^:]{2,50}):\s")


def _label(text: str) -> str | None:
    """A list item's label, colon or dash."""
    found = _LABEL.match(text)
    return (found.group(1) or found.group(2)) if found else None


@dataclass(frozen=True)
class Part:
    """One piece of an answer: sentence rows, a list's items, a heading naming the term."""

    rows: tuple[int, ...]
    items: tuple[tuple[int, ...], ...] = ()
    label: str | None = None


@dataclass(frozen=True)
class Shaped:
    """The parts of an answer, or why there is none."""

    parts: list[Part]
    missing: str | None = None  # what the passages lack, when they can't answer
    lead: str | None = None  # "Yes." / "No." / "Not necessarily." before a yes/no answer


def shape_answer(
    question: str,
    expanded: str,
    units: list[Unit],
    table: SentenceTable,
    max_sentences: int,
    lexical: LexicalIndex,
) -> Shaped:
    """The parts that answer `question` (its abbreviations written out in `expanded`)."""
    # What the article says of itself answers nothing (it still counts as evidence), nor
    # does what follows on from it ("In this article, nurses… These professionals…").
    units = [u for u in units if not table.framing[u.rows[0]]] or units
    sides = compared(expanded)
    # Nothing is compared with what the articles never mention ("…with an actuary's?").
    unknown = [s for s, other in _pairs(sides) if _never_mentioned(s, other, lexical)]
    if unknown:
        return Shaped([], missing=f"the articles never mention {unknown[0].strip()!r}")
    # "How many hours do they work? Is the balance good?": each figure asked needs one.
    for earlier in earlier_questions(question):
        kind = figure_kind(earlier)
        if kind and not _giving(kind, units, table):
            return Shaped([], missing=f"no passage close to the question states a {kind} figure")
    kind = figure_kind(question)
    if kind:
        return _figure(question, expanded, kind, units, table, max_sentences, lexical)
    if sides:
        return Shaped(_comparison(sides, units, table, max_sentences, lexical))
    shape = question_shape(question)
    if shape == "yes/no":
        thing = asked_to_exist(question)
        if thing and not all(_heard_of(t, lexical) for t in terms(thing)):
            # "Is there a labor union for engineers?": no article speaks of unions.
            return Shaped([], missing=f"the articles never mention a {thing!r}")
        parts = _with_more(_list_first(units, table), units, table, max_sentences)
        return Shaped(parts, lead=yes_or_no(question, units[0], table))
    term = definition_term(expanded)
    named = _DOES.sub("", term or "")  # "What does peer review involve?": "peer review"
    unknown = [t for t in terms(named) if not _heard_of(t, lexical)]
    if unknown:
        # "What is gradient boosting?": no article uses "boosting", so none defines it.
        return Shaped([], missing=f"the articles never use {unknown[0]!r}, so none defines it")
    first = (
        _involving(question, units, table)
        or (_defining(term, units, table) if term else None)
        or (_naming_place(f"{question} {expanded}", units, table) if asks_where(question) else None)
        or _named_item(expanded, units, table, max_sentences)
        or _list_of(list_noun(expanded), expanded, units, table, lexical)
        or _list_first(units, table)
    )
    if shape == "steps":
        first = _list_of_close_items(units, table) or first
        steps = _paragraph_on(first, table, max_sentences)
        if steps:
            return Shaped([steps])
    return Shaped(_with_more(first, units, table, max_sentences))


# The verb after the term of "What does X involve?"
_DOES = re.compile(r"\s+(?:involves?|entails?|includes?|covers?|do|does)$", re.I)
# "What does X involve?", "what kind of work does that involve?": asks for what X is made
# of, which a sentence saying what it involves gives ("This may involve handling…").
_INVOLVE = re.compile(r"\b(?:involve[sd]?|entails?|consists? of)\b", re.I)


def _involving(question: str, units: list[Unit], table: SentenceTable) -> Part | None:
    """For "What does X involve?": the close unit that says what something involves, and
    names X (in its sentences, heading or item label) when the question names it."""
    asked = last_question(question)
    if not _INVOLVE.search(asked):
        return None
    own = set(terms(involved_what(asked) or ""))
    found = []
    for unit in _close(units, FURTHER):
        item = _item_of(unit.rows[0], table)
        label = _label(table.texts[item[0]]) if item else None
        if item and own and label and own <= set(terms(label)):
            # An item whose label names X is about X: given whole when it says what X
            # involves ("Data Preprocessing and Feature Engineering: … This may involve…").
            if _INVOLVE.search(" ".join(table.texts[r] for r in item)):
                return Part(item)
            continue
        text = _text(unit, table)
        named = own <= set(terms(f"{label or ''} {text}")) | table.heading_terms(unit.rows[0])
        if _INVOLVE.search(text) and named:
            found.append(unit)
    # Else a sentence that says what something involves and names X's words.
    return _part(found[0], table) if found else None


def _item_of(row: int, table: SentenceTable) -> tuple[int, ...] | None:
    """The rows of the list item a row is in."""
    span = table.list_at(row)
    return next((item for item in span.items if row in item), None) if span else None


def _paragraph_on(first: Part, table: SentenceTable, limit: int) -> Part | None:
    """For "How do I…": the best sentence and the ones after it in its paragraph, which
    say how ("…is achievable with planning. Begin by building… Focus on…"), when the
    best sentence opens the paragraph. One from its middle is a tip among tips: what
    follows it answers other questions ("Network at meetups…", "Be persistent…")."""
    if first.items or table.continues[first.rows[0]]:
        return None
    rows = list(first.rows)
    after = rows[-1] + 1
    while (
        len(rows) < limit
        and after < len(table.texts)
        and table.continues[after]
        and table.list_at(after) is None
        and not table.framing[after]
    ):
        rows.append(after)
        after += 1
    return Part(tuple(rows), (), first.label) if len(rows) > len(first.rows) else None


def _pairs(sides: tuple[str, str] | None) -> list[tuple[str, str]]:
    return [sides, (sides[1], sides[0])] if sides else []


def _never_mentioned(side: str, other: str, lexical: LexicalIndex) -> bool:
    """A side whose own words ("actuary" of "an actuary salary" beside "an ML engineer
    salary"; numbers aside) the corpus neither uses nor misspells."""
    own = set(terms(side)) - set(terms(other)) or set(terms(side))
    words = [t for t in own if t.isalpha()]
    return bool(words) and not any(_heard_of(t, lexical) for t in words)


def _heard_of(term: str, lexical: LexicalIndex) -> bool:
    """Does the corpus use this term, in some form, or is it a misspelling of one it uses?"""
    return lexical.knows(term) or lexical.resembles(term)


def _close(units: list[Unit], margin: float) -> list[Unit]:
    return [u for u in units if u.score >= units[0].score - margin]


def _part(unit: Unit, table: SentenceTable, label: str | None = None) -> Part:
    span = table.list_at(unit.rows[-1]) if unit.lead else None
    if span:
        return Part(unit.rows, span.items[:MAX_ITEMS], label)
    rows = unit.rows
    # A sentence the next one qualifies ("However, …") is never given without it.
    after = rows[-1] + 1
    if after < len(table.texts) and table.qualifies[after] and len(rows) < MAX_GROUP:
        rows = (*rows, after)
    return Part(rows, (), label or _bare_item_heading(rows[0], table))


def _bare_item_heading(row: int, table: SentenceTable) -> str | None:
    """The heading over a list whose first item has no label of its own: "Algorithms
    identify patterns in unlabeled data." is read as "Unsupervised Learning: …"."""
    span = table.list_at(row)
    if span is None or span.lead is not None or span.items[0][0] != row:
        return None
    return None if _label(table.texts[row]) else span.heading


# A name: a capitalised word that is not an acronym ("Coursera", "edX", "GitHub").
_NAME = re.compile(r"\b(?:[A-Z][a-z]+[A-Z]?[a-z]*|[a-z]+[A-Z][A-Za-z]*)\b")


# A term introduced with its initials, "Business Intelligence (BI)": no name of a place.
_INITIALS = re.compile(r"\(([A-Z][A-Za-z]{1,6})\)")


def _without_defined_terms(text: str) -> str:
    """The text without the words initials stand for: "Kaggle Business Intelligence
    (BI) challenges" keeps "Kaggle"."""
    for found in reversed(list(_INITIALS.finditer(text))):
        before = text[: found.start()].split()
        spelled = spelled_out(before, found.group(1).lower())
        if spelled:
            start = text.rindex(spelled, 0, found.start())
            text = text[:start] + text[found.end() :]
    return text


def _names(text: str, asked: set[str]) -> set[str]:
    """Names a sentence uses besides the `asked` words (its first word and label aside)."""
    label = _COLON_LABEL.match(text)
    words = _without_defined_terms(text[label.end() if label else 0 :]).split(maxsplit=1)
    found = set(_NAME.findall(words[1])) if len(words) > 1 else set()
    return {n for n in found if n.lower() not in asked}


def _naming_place(question: str, units: list[Unit], table: SentenceTable) -> Part | None:
    """For "Where can I…": the close unit that names somewhere (a platform, a site),
    from a little further down: a name is what the question asks for. `question` has
    its abbreviations written out ("ML" is no name of a place: "Machine Learning")."""
    asked = {w.lower() for w in re.findall(r"\w+", question)}
    for unit in _close(units, FURTHER):
        if any(_names(table.texts[r], asked) for r in unit.rows):
            return _part(unit, table)
    return None


def _named_item(question: str, units: list[Unit], table: SentenceTable, limit: int) -> Part | None:
    """A list item labelled with what the question names ("Statistics: …" for statistics),
    whole: its first sentence often only restates the label."""
    wanted = set(terms(question))
    for unit in _close(units, NAMED):
        label = _label(table.texts[unit.rows[0]])
        named = set(terms(label)) if label else set()
        span = table.list_at(unit.rows[0])
        if named and named <= wanted and span is not None:
            # The whole item answers it: "…: X are critical. This involves A, B, C."
            item = _item_of(unit.rows[0], table) or unit.rows
            return Part(item[: max(limit, len(unit.rows))])
    return None


# Words that weigh or time what a question asks rather than name it.
_WEIGHING = frozenset(
    terms(
        "first most best top main key major good great important today now nowadays "
        "currently really actually right usually typically often also still just even "
        "ever generally mostly"
    )
)


def _list_of(
    noun: str | None, question: str, units: list[Unit], table: SentenceTable, lexical: LexicalIndex
) -> Part | None:
    """The list whose lead-in or heading names the things asked for ("Which industries…"),
    and which says something of what else the question asks: "Which sectors are hiring
    the most talent?" is not answered by a list of sectors that says nothing of hiring."""
    if not noun:
        return None
    wanted = set(terms(noun))
    # The question's other words, but those the corpus never uses or uses everywhere,
    # and the ones that only weigh the question ("first", "most", "today").
    asked = {t for t in set(terms(question)) - wanted - _WEIGHING if lexical.knows(t)}
    asked = {t for t in asked if lexical.share(t) <= COMMON}
    for unit in _close(units, FURTHER):
        span = table.list_at(unit.rows[0])
        if span is None or len(span.items) < 3:
            continue
        said = set(
            terms((table.texts[span.lead] if span.lead is not None else "") + f" {span.heading}")
        )
        if not wanted <= said:
            continue
        if not asked or asked & said.union(*(table.terms[r] for item in span.items for r in item)):
            return _whole_list(span)
    return None


def _whole_list(span: ListSpan) -> Part:
    """A list as one part: its lead-in and items, or its heading, first item and the rest."""
    if span.lead is not None:
        return Part((span.lead,), span.items[:MAX_ITEMS])
    return Part(span.items[0], span.items[1:MAX_ITEMS], label=span.heading)


def _list_of_close_items(units: list[Unit], table: SentenceTable) -> Part | None:
    """The list when several close units are its items: "What steps does…go through?"
    is answered by the list of steps, not by whichever step matched best."""
    found: dict[int, list[float]] = {}  # list number → its close items' scores
    for unit in _close(units, MORE):
        number = table.list_of.get(unit.rows[0])
        if number is not None and not unit.lead:
            found.setdefault(number, []).append(unit.score)
    # The list whose best few items fit best; a long list is not preferred for its length.
    lists = [
        (sum(sorted(scores)[-LIST_ITEMS_CLOSE:]), n)
        for n, scores in found.items()
        if len(scores) >= LIST_ITEMS_CLOSE
    ]
    return _whole_list(table.lists[max(lists)[1]]) if lists else None


def _list_first(units: list[Unit], table: SentenceTable) -> Part:
    """The best unit, or the list a close unit announces: lists name what was asked for."""
    for unit in _close(units, CLOSE):
        if unit.lead:
            return _part(unit, table)
    return _part(units[0], table)


def _with_more(first: Part, units: list[Unit], table: SentenceTable, limit: int) -> list[Part]:
    """The first part, then close units that say something new, up to `limit` sentences."""
    parts = [first]
    if first.items:  # a list is an answer of its own, after its one-line summary if any
        summary = _summary(first, units, table)
        return [summary, first] if summary else parts
    used = len(first.rows)
    given = set(first.rows)
    chosen = [u for u in units if u.rows == first.rows]
    for unit in _close(units, MORE):
        if used >= limit:
            break
        part = _part(unit, table)
        if unit.lead or given.intersection(part.rows) or used + len(part.rows) > limit:
            continue  # a row is never given twice ("However, …" first, then what it qualifies)
        if _says_something_new(unit, chosen, parts, table):
            chosen.append(unit)
            parts.append(part)
            used += len(part.rows)
            given.update(part.rows)
    return parts


def _summary(listed: Part, units: list[Unit], table: SentenceTable) -> Part | None:
    """A close sentence outside the list that names its items in one line ("…concepts
    such as linear algebra, calculus, probability, and statistics"): at least three
    of them, or all when there are fewer."""
    span = table.list_at(listed.items[0][0])
    if span is None:
        return None
    names = [n for n in (_item_name(item, table) for item in span.items) if n]
    needed = min(3, len(span.items))
    if len(names) < needed or needed < 2:
        return None
    listed_rows = set(listed.rows).union(*span.items)
    for unit in _close(units, CLOSE):
        if unit.lead or listed_rows.intersection(unit.rows):
            continue
        if sum(name <= _words(unit, table) for name in names) >= needed:
            return _part(unit, table)
    return None


def _item_name(item: tuple[int, ...], table: SentenceTable) -> set[str] | None:
    """The words naming a list item: its label, or the whole of a short bare item."""
    text = table.texts[item[0]]
    label = _label(text)
    if label:
        return set(terms(label)) or None
    if len(text.split()) > 4:
        return None
    return set(terms(text)) or None


def _says_something_new(
    unit: Unit, chosen: list[Unit], parts: list[Part], table: SentenceTable
) -> bool:
    stated = _figures(unit, table)
    if any(
        float(unit.vector @ c.vector) >= DUPLICATE and stated == _figures(c, table) for c in chosen
    ):
        return False
    said = " ".join(table.texts[r] for p in parts for r in p.rows + sum(p.items, ())).lower()
    return not all(table.texts[r].lower() in said for r in unit.rows)


def _figures(unit: Unit, table: SentenceTable) -> set[str]:
    return figures(_text(unit, table))


def _figure(
    question: str,
    expanded: str,
    kind: str,
    units: list[Unit],
    table: SentenceTable,
    limit: int,
    lexical: LexicalIndex,
) -> Shaped:
    """The close units that state a figure of the asked kind, the asked qualifier first."""
    giving = _giving(kind, units, table)
    if kind == "count":
        # A count of what was asked: "a quartet of core requirements", not any number.
        things = set(terms(counted(question) or ""))
        giving = [u for u in giving if things <= _words(u, table)]
    if not giving:
        return Shaped([], missing=f"no passage close to the question states a {kind} figure")
    if kind == "money" and asks_cost(question):
        # "How much do bootcamps cost?" is not answered by what engineers earn.
        giving = [u for u in giving if states_cost(_text(u, table))]
        if not giving:
            return Shaped([], missing="no passage close to the question states a price")
    giving, unpaid = _paying_whom(expanded, giving, table, lexical)
    if unpaid:
        return Shaped([], missing=f"no passage close to the question states the pay of {unpaid!r}")
    if kind == "duration":
        # "How long does a master's take?" is not answered by how long self-study takes.
        giving, untimed = _naming(timed_what(expanded), giving, table, lexical)
        if untimed:
            return Shaped(
                [], missing=f"no passage close to the question says how long {untimed!r} takes"
            )
    if kind == "date" and (dated := dated_what(expanded)):
        # "When was the nursing article updated?": a date of that update, in that article.
        thing, event = dated
        told = [u for u in giving if set(terms(event)) <= _words(u, table)]
        giving, undated = _naming([thing], told, table, lexical)
        if not giving:
            return Shaped([], missing=f"no passage close to the question dates {undated!r}")
    wanted = qualifiers(question)
    # The asked qualifier first ("experienced"), then what shares most of the question's words.
    asked = set(terms(question))
    giving.sort(
        key=lambda u: (
            not wanted & qualifiers(_text(u, table)),
            -len(asked & _words(u, table)),
        )
    )
    return Shaped(_with_more(_part(giving[0], table), giving, table, min(limit, 2)))


def _giving(kind: str, units: list[Unit], table: SentenceTable) -> list[Unit]:
    """The close units that state a figure of this kind."""
    return [
        u for u in _close(units, FURTHER) if any(gives_figure(table.texts[r], kind) for r in u.rows)
    ]


def _paying_whom(
    expanded: str, giving: list[Unit], table: SentenceTable, lexical: LexicalIndex
) -> tuple[list[Unit], str | None]:
    """The units that state the pay of whom the question names, or whom none pays.

    "A data scientist's salary" is not what a passage on the corpus' own topic pays
    ("machine learning engineers can expect…"): a unit must name them, in its sentences
    or heading. A compound before "salary" names someone when it names the corpus' topic
    ("the data engineer salary"), not a kind of pay ("the median annual salary").
    """
    named, compounds = paid_whom(expanded)
    topical = [c for c in compounds if any(lexical.share(t) >= TOPIC_SHARE for t in terms(c))]
    return _naming(named + topical, giving, table, lexical)


def _naming(
    phrases: list[str], giving: list[Unit], table: SentenceTable, lexical: LexicalIndex
) -> tuple[list[Unit], str | None]:
    """The units that name each phrase's own words (in their sentences or heading), or
    the first phrase none of them names."""
    for phrase in phrases:
        own = _own_words(phrase, lexical)
        naming = [u for u in giving if own <= _words(u, table) | table.heading_terms(u.rows[0])]
        if not naming:
            return [], phrase
        if own:
            giving = naming
    return giving, None


def _own_words(whom: str, lexical: LexicalIndex) -> set[str]:
    """The words that say who is meant, beside the corpus' topic and a qualifier: "data"
    of "a data engineer", nothing of "senior machine learning engineers"."""
    for qualifier in QUALIFIERS.values():
        whom = qualifier.sub(" ", whom)
    return {t for t in terms(whom) if lexical.share(t) < TOPIC_SHARE}


def _text(unit: Unit, table: SentenceTable) -> str:
    return " ".join(table.texts[r] for r in unit.rows)


def _words(unit: Unit, table: SentenceTable) -> set[str]:
    """The words of a unit's own sentences (not its heading)."""
    return set().union(*(table.terms[r] for r in unit.rows))


def _defining(term: str, units: list[Unit], table: SentenceTable) -> Part | None:
    """The close unit that defines `term`: "X is…", "X (Y): …", or the first line under X."""
    pattern = re.compile(
        rf"^(?:an?\s+|the\s+)?{re.escape(term)}s?\b(?:\s*\([^)]*\))?\s*"
        r"(?::|,|-|–|—|\b(?:is|are|refers|means|involves|describes|enables|uses)\b)",
        re.I,
    )
    wanted = " ".join(terms(term))
    for unit in units:
        if pattern.match(table.texts[unit.rows[0]]):
            return _part(unit, table)
        heading = table.section_heading(unit.rows[0])
        if heading and " ".join(terms(re.sub(r"\([^)]*\)", "", heading))) == wanted:
            # A heading that asks ("What Is X?") is no label: the line answers it.
            return _part(unit, table, label=None if heading.endswith("?") else heading)
    return None


def _comparison(
    sides: tuple[str, str],
    units: list[Unit],
    table: SentenceTable,
    limit: int,
    lexical: LexicalIndex,
) -> list[Part]:
    """A close sentence that names both sides and sets them against each other ("While
    data scientists focus on…, engineers…"); else a sentence on each side, each naming
    one of them; else the best unit and the best one on the side it leaves out."""
    a, b = (set(terms(side)) for side in sides)
    a, b = (a - b) or a, (b - a) or b
    # Words most passages use ("learning" in "ML theory") don't tell the sides apart.
    a, b = ({t for t in side if lexical.share(t) <= COMMON} or side for side in (a, b))
    # A sentence that sets the two sides against each other answers it whole; else a
    # side named on its own is what was asked about it, from as far down as a named item.
    on_its_own: dict[bool, Unit] = {}  # True: the best unit naming only side a
    for unit in _close(units, NAMED):
        words = _words(unit, table)
        if a <= words and b <= words and _CONTRASTS.search(_text(unit, table)):
            return _with_more(_part(unit, table), units, table, limit)
        if bool(words & a) != bool(words & b):
            on_its_own.setdefault(bool(words & a), unit)
    if len(on_its_own) == 2:
        pair = sorted(on_its_own.values(), key=lambda u: -u.score)
        return [_part(u, table) for u in pair]
    first = units[0]
    words = _words(first, table)
    missing = b if words & a and not words & b else a if words & b and not words & a else None
    parts = [_part(first, table)]
    if not missing:  # both sides covered, or a side with no word to look for ("R")
        return _with_more(parts[0], units, table, limit)
    for unit in _close(units, FURTHER)[1:]:
        if _words(unit, table) & missing and _says_something_new(unit, [first], parts, table):
            parts.append(_part(unit, table))
            break
    return parts


# Words that set one thing against another within a sentence.
_CONTRASTS = re.compile(
    r"\b(?:while|whereas|unlike|than|differ(?:s|ed)?|different from|compared|instead of)\b",
    re.I,
)
_HEDGE = re.compile(
    r"\bnot (?:always|necessarily|strictly|an absolute|a strict|required|mandatory|essential)\b"
    r"|\bisn[’']t (?:always|necessarily|required|mandatory)\b"
    r"|\bwithout a (?:traditional )?degree\b",
    re.I,
)
# A question that asks whether something is needed ("Do I need a PhD?", "Is a degree
# required?"); "not always required" answers it "Not necessarily.", yet it answers "Can I
# become one with a biology degree?" the other way, and "Many engineers hold a PhD" says
# nothing of a need.
_NEED = r"need(?:s|ed)?|require[sd]?|requirements?|must|ha(?:ve|s) to|necessary|mandatory"
_ASKS_NEED = re.compile(rf"\b(?:{_NEED})\b", re.I)
_STATES_NEED = re.compile(
    rf"\b(?:{_NEED}|essential|crucial|vital|important|prerequisites?|indispensable)\b", re.I
)
_NEGATION = re.compile(r"\b(?:not|never|no longer|cannot)\b|n[’']t\b", re.I)
_DIRECT = re.compile(r"^(yes|no)\b", re.I)
# A question that asks whether something hurts ("Will that hold me back?") turns a
# supportive passage into a "no"; these are left without a lead rather than guessed.
_ADVERSE = re.compile(
    r"\b(?:hold\w* (?:me |you |us |them )?back|hurt|harm|prevent|stop|too late|too old)\b", re.I
)
# How well the best passage must match before it is read as a plain "yes".
YES_SIMILARITY = 0.55


def yes_or_no(question: str, best: Unit, table: SentenceTable) -> str | None:
    """A direct lead for a yes/no question when the best passage gives one, else None."""
    text = _text(best, table)
    direct = _DIRECT.match(text)
    if direct:
        return None  # the passage itself starts with it
    need = bool(_ASKS_NEED.search(question))
    if _HEDGE.search(text):
        return "Not necessarily." if need else None
    asked = set(terms(question))
    negated = _NEGATION.search(text)
    if negated and asked & set(terms(text[negated.end() : negated.end() + 40])):
        return "No."
    if negated or _ADVERSE.search(question) or best.similarity < YES_SIMILARITY:
        return None
    if need and not _STATES_NEED.search(text):
        return None
    # A plain "yes" only when the passage says what was asked, nearly word for word.
    said = set(terms(text)) | table.heading_terms(best.rows[0])
    return "Yes." if len(asked - said) <= 1 else None
