"""Lexical search: BM25 (bm25s) over the chunk texts, with one shared tokenizer."""

from __future__ import annotations

import bisect
import difflib
import logging
import math
import re
from collections import Counter
from functools import lru_cache

import bm25s
import numpy as np
import Stemmer

# bm25s sets its own logger to DEBUG on import; its chatter is not ours to show.
logging.getLogger("bm25s").setLevel(logging.WARNING)

_WORD = re.compile(r"(?u)\b\w[\w+#]*")
_STOPWORDS = frozenset(bm25s.stopwords.STOPWORDS_EN) | {
    "do",
    "does",
    "did",
    "can",
    "could",
    "should",
    "would",
    "will",
    "much",
    "many",
    "get",
    "need",
    "i",
    "me",
    "my",
    "you",
    "your",
    "what",
    "which",
    "who",
    "how",
    "when",
    "where",
    "why",
    "is",
    "are",
    "am",
    "was",
    "were",
    "be",
    "been",
    "there",
}
# A word used in at least this share of the chunks is the corpus' topic (README,
# "Abstention").
TOPIC_SHARE = 0.5
_stemmer = Stemmer.Stemmer("english")


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    return str(_stemmer.stemWord(word))


# "Ph.D.", "Ph. D.": one word, as "PhD" is.
_DOTTED = re.compile(r"\b([A-Z][a-z]?)\.\s?([A-Z])\.")


def terms(text: str) -> list[str]:
    """Lower-cased, stemmed content words of a text (stopwords removed)."""
    words = _WORD.findall(_DOTTED.sub(r"\1\2", text).lower())
    return [_stem(w) for w in words if w not in _STOPWORDS and len(w) > 1]


# What is left of a stemmed word past a shorter word it is formed from ("learn|er",
# "know|n", "class|ic", "full|i" of "fully").
_ENDINGS = frozenset(
    {"s", "es", "e", "d", "ed", "er", "or", "ers", "n", "en", "i", "y"}
    | {"ic", "al", "ist", "ism", "iv", "ion", "ment", "ness", "iti", "abl", "ibl", "ing"}
)
_LONGEST_ENDING = max(len(e) for e in _ENDINGS)


class LexicalIndex:
    """BM25 scores of every chunk for a question, and term statistics for coverage."""

    def __init__(self, texts: list[str], searchable: bool = True):
        """`searchable=False`: term statistics only (another store runs the BM25 search)."""
        tokenized = [terms(t) or ["\x00empty"] for t in texts]
        self._bm25 = bm25s.BM25()
        self._size = len(texts)
        if texts and searchable:
            self._bm25.index(tokenized, show_progress=False)
        self._df = Counter(term for doc in tokenized for term in set(doc))
        self._vocabulary = sorted(self._df)

    def scores(self, words: list[str]) -> np.ndarray:
        """BM25 score of every chunk row for a question's terms (zeros when none matches)."""
        query = [t for t in words if t in self._df]
        if not query or not self._size:
            return np.zeros(self._size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(query), dtype=np.float32)

    def idf(self, term: str) -> float:
        """Inverse document frequency; a term the corpus never uses weighs the most."""
        return math.log((self._size + 1) / (self._df.get(term, 0) + 0.5))

    def share(self, term: str) -> float:
        """The share of chunks that use this term."""
        return self._df.get(term, 0) / self._size if self._size else 0.0

    def knows(self, term: str) -> bool:
        """Does the corpus use this term, or a longer or shorter form of it ("math", "mathemat")?"""
        if term in self._df:
            return True
        if len(term) < 4:
            return False
        i = bisect.bisect_left(self._vocabulary, term)
        if i < len(self._vocabulary) and self._vocabulary[i].startswith(term):
            return True
        # A shorter form is the term less an ending ("learner" of "learn", "known" of
        # "know"), never less a word ("overfit" is not "over", nor "plant" "plan").
        return any(
            term[:n] in self._df and term[n:] in _ENDINGS
            for n in range(max(4, len(term) - _LONGEST_ENDING), len(term))
        )

    def resembles(self, term: str) -> bool:
        """Is this term a likely misspelling of one the corpus uses ("exel" → "excel")?"""
        return bool(difflib.get_close_matches(term, self._vocabulary, n=1, cutoff=0.8))

    def without_topic_words(self, text: str) -> str:
        """The text minus the words at least `TOPIC_SHARE` of the chunks use: the corpus'
        own topic ("machine learning engineers"), which says nothing of what is asked."""
        return " ".join(
            w
            for w in text.split()
            if not (t := terms(w)) or any(self.share(x) < TOPIC_SHARE for x in t)
        )

    def without_unknown_words(self, question: str) -> str | None:
        """The question minus the words the corpus never uses, or None when it uses them all."""
        words = question.split()
        kept = [w for w in words if all(self.knows(t) for t in terms(w))]
        return None if len(kept) == len(words) else " ".join(kept)
