"""Documents the tests write: a web page with boilerplate, a PDF, a Word file, a PDF bomb."""

import io
import zlib

import docx
from fpdf import FPDF
from PIL import Image

PAGE = b"""<!doctype html><html><head><title>Data Careers | Example Site</title>
<link rel="canonical" href="https://example.org/careers/data-analyst">
<meta property="og:title" content="How to Become a Data Analyst"></head>
<body><nav><a href="/">Home</a> <a href="/blog">Blog</a> <a href="/about">About us</a></nav>
<div class="cookie-banner">We use cookies to improve your experience. Accept all cookies</div>
<article><h1>How to Become a Data Analyst</h1>
<p>Data analysts turn raw numbers into reports that managers read every week.
Most of them studied statistics, economics or business at university.</p>
<h2>Tools analysts use</h2>
<p>Employers ask for these tools in most job adverts:</p>
<ul><li>Spreadsheets such as Excel for quick models</li><li>SQL for querying databases</li>
<li>Tableau for dashboards</li></ul>
<h2>Pay</h2>
<p>Junior data analysts in Canada earn about $58,000 a year, the survey found.</p>
<table><tr><th>Level</th><th>Salary</th></tr><tr><td>Junior</td><td>$58,000</td></tr>
<tr><td>Lead</td><td>$97,000</td></tr></table>
</article>
<section class="comments"><h3>3 comments</h3><p>Great post, thanks a lot!</p>
<form>Leave a reply</form></section>
<footer>Copyright 2026 Example Site. Privacy policy. Terms of use.</footer></body></html>"""


def make_pdf(scanned_page: bool = False) -> bytes:
    """Three pages: a big title, headings, paragraphs wrapped over several lines."""
    pdf = FPDF()
    pdf.set_title("Robotics Engineer Handbook")
    sections = [
        (
            "Robotics Engineer Handbook",
            "Robotics engineers design machines that sense and act. "
            "They combine mechanical design, electronics and software in one product. " * 3,
        ),
        (
            "Licensing",
            "Robotics engineers in Germany need no licence to practise, but many "
            "join the national engineering society after their first three years of work. " * 3,
        ),
        (
            "Working hours",
            "Most robotics engineers work about forty hours a week, with longer "
            "weeks before a product launch or a field trial of a new machine. " * 3,
        ),
    ]
    for number, (heading, body) in enumerate(sections):
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 22 if number == 0 else 16)
        pdf.cell(0, 12, heading, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 11)
        pdf.multi_cell(0, 6, body, new_x="LMARGIN", new_y="NEXT")
    if scanned_page:  # a page that is only a picture of text
        pdf.add_page()
        image = Image.new("RGB", (200, 100), "white")
        pdf.image(image, x=10, y=10, w=100)
    return bytes(pdf.output())


def make_docx() -> bytes:
    document = docx.Document()
    document.core_properties.title = "Nursing Informatics Guide"
    document.add_heading("Nursing Informatics Guide", 0)
    document.add_paragraph("Nursing informatics specialists connect clinical work and IT.")
    document.add_heading("Certification", 1)
    document.add_paragraph(
        "The informatics certificate exam takes three hours and costs $395 for members."
    )
    document.add_paragraph("Clinical documentation systems", style="List Bullet")
    document.add_paragraph("Patient data privacy", style="List Bullet")
    table = document.add_table(rows=3, cols=2)
    for row, (a, b) in enumerate(
        [("Role", "Typical pay"), ("Analyst", "$81,000"), ("Director", "$128,000")]
    ):
        table.cell(row, 0).text, table.cell(row, 1).text = a, b
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def pdf_bomb(inflated_mb: int = 300) -> bytes:
    """A one-page PDF whose content stream inflates from about 0.6 MB to `inflated_mb` MB."""
    squeeze = zlib.compressobj(9)
    chunk = b"0 0 0 rg " * (2**20 // 9)
    data = b"".join(squeeze.compress(chunk) for _ in range(inflated_mb)) + squeeze.flush()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data + b"\nendstream",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 5\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    return out + b"trailer\n<< /Size 5 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref
