"""A synthetic corpus of any size, from the seed articles' paragraphs recombined.

Usage: .venv/bin/python bench/synthetic.py OUT --articles 100000 [--seed 0]

Each article gets a title, three to six sections under headings taken from the seeds,
and one to three paragraphs a section drawn from all the seeds' paragraphs, so its
text is realistic career prose (what the model and BM25 see at scale) while no two
articles are the same. Files go into OUT/<nnn>/article-<n>.md, a thousand a folder.
Deterministic for a seed; articles already written are left as they are, so a larger
corpus extends a smaller one.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
_HEADING = re.compile(r"^#{1,6}\s+(.*)$")


def seed_parts(corpus: Path) -> tuple[list[str], list[str]]:
    """(headings, paragraphs) of the seed articles (.md and .txt)."""
    headings, paragraphs = [], []
    for path in sorted(corpus.glob("*.*")):
        if path.suffix not in (".md", ".txt"):
            continue
        for block in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")):
            block = block.strip()
            if not block or block.startswith("---"):
                continue
            match = _HEADING.match(block)
            one_line = "\n" not in block
            plain = not block[0].isdigit() and block[0] not in "•-*" and block[-1] not in ".:"
            if match or (one_line and len(block) < 80 and plain):
                headings.append(match.group(1) if match else block)
            elif len(block) > 80:
                paragraphs.append(block)
    return headings, paragraphs


def article(number: int, seed: int, headings: list[str], paragraphs: list[str]) -> str:
    """The text of article `number`."""
    rng = random.Random(seed * 1_000_003 + number)
    lines = [f"# {rng.choice(headings)} (article {number})", ""]
    for _ in range(rng.randint(3, 6)):
        lines += [f"## {rng.choice(headings)}", ""]
        for _ in range(rng.randint(1, 3)):
            lines += [rng.choice(paragraphs), ""]
    return "\n".join(lines)


def write(out: Path, articles: int, seed: int = 0, corpus: Path = REPO / "corpus") -> int:
    """Write articles 0…articles-1 that are not there yet; returns how many were written."""
    headings, paragraphs = seed_parts(corpus)
    written = 0
    for number in range(articles):
        path = out / f"{number // 1000:03d}" / f"article-{number:06d}.md"
        if path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(article(number, seed, headings, paragraphs), encoding="utf-8")
        written += 1
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    written = write(args.out, args.articles, args.seed)
    print(f"{written} articles written, {args.articles} in {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
