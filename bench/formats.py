"""Conversion time per format, and the PDF libraries side by side.

    .venv/bin/python bench/formats.py [--runs 5]

Documents are the ones the tests write (tests/builders.py): a web page with
navigation, cookie banner, comments and footer; a Word file with headings, a list and
a table; PDFs of 3, 30 and 200 pages with headings and wrapped paragraphs. Each
figure is the median of --runs conversions. pdfminer.six and PyMuPDF are timed too
when installed (they are not dependencies), as ratios to pypdf in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO))

from tests.builders import PAGE, make_docx, make_pdf  # noqa: E402

from careerqa.converting import convert  # noqa: E402


def long_pdf(pages: int) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    sentence = "Graduates who build a portfolio of projects find their first role sooner. "
    for number in range(pages):
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 16)
        pdf.cell(0, 12, f"Chapter {number + 1}", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 11)
        for _ in range(4):
            pdf.multi_cell(0, 6, sentence * 6, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def median_ms(step, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        step()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def others(raw: bytes) -> dict[str, object]:
    """The other PDF libraries' plain-text extraction, where installed."""
    found: dict[str, object] = {}
    try:
        import io

        from pdfminer.high_level import extract_text

        found["pdfminer.six"] = lambda: extract_text(io.BytesIO(raw))
    except ImportError:
        pass
    try:
        import pymupdf

        found["PyMuPDF"] = lambda: [p.get_text() for p in pymupdf.open(stream=raw)]
    except ImportError:
        pass
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    documents = [
        ("web page", ".html", PAGE),
        ("Word file", ".docx", make_docx()),
        ("PDF, 3 pages", ".pdf", make_pdf()),
        ("PDF, 30 pages", ".pdf", long_pdf(30)),
        ("PDF, 200 pages", ".pdf", long_pdf(200)),
    ]
    print("| document | size | careerqa conversion (median ms) | other PDF libraries, plain text |")
    print("| --- | --- | --- | --- |")
    for name, suffix, raw in documents:
        ours = median_ms(lambda s=suffix, r=raw: convert(s, r), args.runs)
        rest = ""
        if suffix == ".pdf":
            rest = ", ".join(
                f"{lib} {median_ms(step, args.runs) / ours:.2f}×"
                for lib, step in others(raw).items()
            )
        print(f"| {name} | {len(raw) / 1024:.0f} KiB | {ours:.1f} | {rest or '—'} |")


if __name__ == "__main__":
    main()
