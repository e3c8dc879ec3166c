"""What the corpus' own words say about a question's words: spellings, abbreviations, names.

Abbreviations are learnt from the articles, never listed by hand: a long form
followed by its letters in brackets ("Bureau of Labor Statistics (BLS)"), or, for
an abbreviation no article spells out, the phrase the articles use most often
whose initials it is ("CS": "computer science").

A misspelt word is one that is neither English (pyspellchecker's word list) nor the
articles'; it is read as the articles' closest word ("lerning" → "learning"). The
English list keeps real words the articles don't use from being "corrected" into
ones they do ("score" is not "core").
"""

from __future__ import annotations

import difflib
import functools
import re
from collections import Counter, defaultdict

from spellchecker import SpellChecker

from .lexical import LexicalIndex, terms

_DEFINED = re.compile(r"((?:[A-Za-z][\w'’-]*\s+){1,6})\(([A-Z][A-Za-z]{1,5})\)")
_SKIPPABLE = frozenset({"of", "and", "for", "the", "in", "on", "to", "&"})
_PHRASE = re.compile(r"[A-Za-z][a-z'’-]+(?:\s+[A-Za-z][a-z'’-]+){1,3}")
# An abbreviation in a question: capitals (and the odd small letter: "PhD", "MSc").
_ABBREVIATION = re.compile(r"\b(?=\w*[A-Z]\w*[A-Z])[A-Z][A-Za-z]{1,4}s?\b")
_LOWER_WORD = re.compile(r"\b[a-z]{2,5}\b")
_NAME = re.compile(r"[A-Z][\w'’-]*")
# A name: two or three capitalised words inside a sentence ("in the United States");
# at a line's start they may be a title-case heading ("Model Selection").
_CAPITALISED = re.compile(r"(?<=[a-z,;] )[A-Z][a-z]+(?:\s+[A-Z][a-z]+){1,2}\b")
_PRONOUNS = frozenset({"I", "I'm", "I’m", "I've", "I’ve", "I'd", "I’d", "I'll", "I’ll"})
_LEAST_USES = 3  # a phrase used fewer times is no evidence of what initials stand for
# Words respelt: lower case (a capitalised word may be a name), long enough that a
# close word is likely the one meant ("intro" is not "into"), and this close to it by
# difflib's ratio: a letter left out or added from six letters on ("lerning", 0.93),
# one mistyped from seven ("enginear", 0.88).
_SPELLABLE = re.compile(r"\b[a-z]{6,}\b")
SPELLING_CLOSENESS = 0.85
_MOST_RESPELT = 5  # per question: a question of nonsense words costs no more than this


@functools.cache
def _english() -> SpellChecker:
    """English words (pyspellchecker's list, about 160,000), loaded once per process."""
    return SpellChecker(distance=1)


def _letters(abbreviation: str) -> str:
    """ "CNNs" → "cnn": the letters an abbreviation's long form starts its words with."""
    if len(abbreviation) > 2 and abbreviation.endswith("s") and abbreviation[:-1].isupper():
        abbreviation = abbreviation[:-1]
    return abbreviation.lower()


def spelled_out(words: list[str], letters: str) -> str | None:
    """The last words before "(ABC)" whose initials are A, B, C (skipping "of", "and")."""
    picked: list[str] = []
    want = list(letters)
    for word in reversed(words):
        if not want:
            break
        if word.lower() == want[-1] or word[0].lower() == want[-1]:
            picked.append(word)
            want.pop()
        elif word.lower() in _SKIPPABLE and picked:
            picked.append(word)
        else:
            return None
    return " ".join(reversed(picked)) if not want else None


class Vocabulary:
    """Abbreviations the corpus defines or implies, and the words it knows."""

    def __init__(self, texts: list[str], lexical: LexicalIndex):
        self._lexical = lexical
        self.abbreviations: dict[str, str] = {}
        phrases: Counter[str] = Counter()
        names: Counter[str] = Counter()
        capitals: set[str] = set()  # abbreviations as written, lower-cased ("cnns", "cnn")
        lower: set[str] = set()  # short words written in lower case
        self._words: set[str] = set()  # every long word, lower-cased
        for text in texts:
            self._words.update(_SPELLABLE.findall(text.lower()))
            for found in _ABBREVIATION.finditer(text):
                capitals.update((found.group().lower(), _letters(found.group())))
            lower.update(_LOWER_WORD.findall(text))
            for found in _DEFINED.finditer(text):
                long = spelled_out(found.group(1).split(), _letters(found.group(2)))
                if long:
                    self.abbreviations.setdefault(_letters(found.group(2)), long.lower())
            names.update(n.group() for n in _CAPITALISED.finditer(text))
            for found in _PHRASE.finditer(text):
                words = found.group().lower().split()
                for n in (2, 3):
                    for i in range(len(words) - n + 1):
                        phrases[" ".join(words[i : i + n])] += 1
        # Abbreviations the articles write in capitals and never as a lower-case word:
        # "cnn" in a question is "CNN", while "us" may be the word.
        self._lower_case = capitals - lower
        self._by_initials: dict[str, str] = {}
        # A name the articles use inside a sentence ("in the United States") stands behind
        # its initials ("US") even when used once, and before a common phrase with the
        # same initials: "SF" is San Francisco, not "strong foundation".
        for name, _ in names.most_common():
            initials = "".join(w[0] for w in name.split()).lower()
            self._by_initials.setdefault(initials, name.lower())
        for phrase, uses in phrases.most_common():
            words = phrase.split()
            if uses < _LEAST_USES or any(w in _SKIPPABLE for w in words):
                continue
            self._by_initials.setdefault("".join(w[0] for w in words), phrase)

        self._by_first_letter: dict[str, list[str]] = defaultdict(list)
        for word in sorted(self._words):
            self._by_first_letter[word[0]].append(word)

    def respell(self, question: str) -> str:
        """The question with each word that is neither English nor the articles' written
        as the articles' closest word, if one is close enough ("lerning" → "learning")."""
        tries = iter(range(_MOST_RESPELT))

        def respelt(found: re.Match[str]) -> str:
            word = found.group()
            if word in self._words or word in _english() or next(tries, None) is None:
                return word
            # A slip rarely hits the first letter; looking only there keeps this quick.
            close = difflib.get_close_matches(
                word, self._by_first_letter.get(word[0], []), n=1, cutoff=SPELLING_CLOSENESS
            )
            return close[0] if close else word

        return _SPELLABLE.sub(respelt, question)

    def long_form(self, abbreviation: str) -> str | None:
        """What an abbreviation stands for in these articles, if they say or imply it."""
        letters = _letters(abbreviation)
        return self.abbreviations.get(letters) or self._by_initials.get(letters)

    def expand(self, question: str) -> str:
        """The question with each abbreviation the articles explain written out, also one
        asked in lower case ("cnn") that the articles only ever write in capitals."""

        def written_out(found: re.Match[str]) -> str:
            long = self.long_form(found.group())
            return long if long else found.group()

        def lower_written_out(found: re.Match[str]) -> str:
            word = found.group()
            if word not in self._lower_case:
                return word
            long = self.long_form(word) or (self.long_form(word[:-1]) if word[-1] == "s" else None)
            return long if long else word

        return _LOWER_WORD.sub(lower_written_out, _ABBREVIATION.sub(written_out, question))

    def unknown_names(self, question: str) -> list[str]:
        """Names in the question (capitalised mid-sentence) that no article uses.

        A question about a city, company or book the articles never mention can't be
        answered from them. Title-case questions capitalise every word, so no word
        stands out as a name there.
        """
        words = question.split()
        if sum(w[:1].isupper() for w in words) > 0.6 * len(words):
            return []
        unknown = []
        for before, word in zip(["."] + words, words, strict=False):
            name = word.strip("\"'“”‘’(),;:?!.")
            if before.endswith((".", "!", "?", ":")) or not _NAME.fullmatch(name):
                continue  # a sentence's first word is capitalised whatever it is
            if name in _PRONOUNS or self.long_form(name):
                continue
            if not all(self._lexical.knows(t) for t in terms(name)):
                unknown.append(name)
        return unknown
