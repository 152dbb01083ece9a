"""A chronology as a paginated PDF fit for a case conference (A4 landscape).

Every page carries the handling marking at its top and foot, the child's name and
reference, the table's column headings and "Page N of M"; the first page adds the period
and filters and who generated it, when. Drawn with reportlab's canvas and our own table
layout: its platypus tables took 4 s for 2,000 entries, this takes a fraction of that
(loadtests/chronology_bench.py). CPU-bound: callers run it off the event loop.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import repeat
from typing import TYPE_CHECKING

from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas

from feeds.chronology.filters import describe

if TYPE_CHECKING:
    from feeds.chronology.entries import Entry
    from feeds.chronology.reading import Chronology

MARKING = "OFFICIAL-SENSITIVE"
HEADINGS = ("Date", "Source (person, agency)", "Event", "Action taken", "Outcome")
WIDTHS = (80.0, 140.0, 260.0, 145.0, 145.0)
PAGE_W, PAGE_H = landscape(A4)
MARGIN = 36.0
FONT, BOLD, SIZE, LEAD, PAD = "Helvetica", "Helvetica-Bold", 8.0, 10.0, 3.0
TABLE_TOP_FIRST = PAGE_H - 118.0  # below the title block
TABLE_TOP = PAGE_H - 66.0
TABLE_BOTTOM = 40.0


@dataclass
class Row:
    cells: list[list[str]]  # the lines of each column
    significant: bool


@dataclass
class Piece:
    """Part of a row placed on a page: lines [start, end) of each cell, from y down."""

    row: Row
    start: int
    end: int
    y: float


@dataclass
class Page:
    pieces: list[Piece] = field(default_factory=list)


def plain(text: str) -> str:
    """What the standard PDF fonts can show (Windows-1252); anything else becomes "?"."""
    return text.encode("cp1252", "replace").decode("cp1252")


# Glyph widths of the standard font, by Windows-1252 code, in 1/1000 of the font size:
# wrapping measures words with these (reportlab's simpleSplit measured every prefix of
# every line, most of the PDF's time).
_GLYPHS: list[int] = list(pdfmetrics.getFont(FONT).widths)
_SPACE = _GLYPHS[32]
_CHAR_WIDTHS = {
    bytes([code]).decode("cp1252", "replace"): wide for code, wide in enumerate(_GLYPHS)
}


@lru_cache(maxsize=8192)
def _width(word: str) -> int:
    """Words repeat: most are measured once per process."""
    return sum(map(_CHAR_WIDTHS.get, word, repeat(_GLYPHS[63])))  # unknown: as "?"


def _split_word(word: str, limit: float) -> list[str]:
    """A word wider than the column (a long link), cut where it fills a line."""
    parts, part, used = [], "", 0
    for char in word:
        wide = _CHAR_WIDTHS.get(char, _GLYPHS[63])
        if part and used + wide > limit:
            parts.append(part)
            part, used = "", 0
        part, used = part + char, used + wide
    return [*parts, part]


def _wrap(text: str, width: float) -> list[str]:
    """Lines of `text` that fit the column (greedy, at spaces; paragraphs kept)."""
    limit = (width - 2 * PAD) * 1000 / SIZE
    lines: list[str] = []
    for paragraph in plain(text).split("\n"):
        line: list[str] = []
        used = 0
        for word in paragraph.split():
            wide = _width(word)
            if wide > limit:
                *whole, word = _split_word(word, limit)
                lines += [" ".join(line)] if line else []
                lines += whole
                line, used, wide = [], 0, _width(word)
            if line and used + _SPACE + wide > limit:
                lines.append(" ".join(line))
                line, used = [], 0
            used += (_SPACE if line else 0) + wide
            line.append(word)
        lines.append(" ".join(line))
    return lines


def _row(entry: Entry, references: dict[int, str], several: bool) -> Row:
    date = [entry.at.strftime("%Y-%m-%d"), entry.at.strftime("%H:%M UTC")]
    if several:
        date.append(references.get(entry.child_id, ""))
    if entry.significant:
        date.append("SIGNIFICANT")
    texts = (entry.source, entry.event, entry.action_taken, entry.outcome)
    cells = [date] + [_wrap(t, w) for t, w in zip(texts, WIDTHS[1:], strict=True)]
    return Row(cells, entry.significant)


def _lines(row: Row) -> int:
    return max(len(cell) for cell in row.cells)


def _room(y: float) -> int:
    """How many lines fit between `y` and the bottom of the table."""
    return int((y - TABLE_BOTTOM - 2 * PAD) // LEAD)


FIRST_ROW_TOP = TABLE_TOP_FIRST - LEAD - 2 * PAD  # below the headings
ROW_TOP = TABLE_TOP - LEAD - 2 * PAD
PAGE_LINES = _room(ROW_TOP)


def paginate(rows: list[Row]) -> list[Page]:
    """Place rows on pages; a row taller than the space left moves to the next page, and
    one taller than a whole page is split across pages."""
    pages, y = [Page()], FIRST_ROW_TOP
    for row in rows:
        start, total = 0, _lines(row)
        while start < total:
            left, room = total - start, _room(y)
            whole_fits_later = left <= PAGE_LINES and pages[-1].pieces
            if room <= 0 or (left > room and whole_fits_later):
                pages.append(Page())
                y = ROW_TOP
                continue
            end = start + min(left, room)
            pages[-1].pieces.append(Piece(row, start, end, y))
            y -= (end - start) * LEAD + 2 * PAD
            start = end
    return pages


def render_pdf(chronology: Chronology) -> bytes:
    """The PDF's bytes."""
    references = {child.id: child.reference for child in chronology.children}
    several = len(chronology.children) > 1
    rows = [_row(entry, references, several) for entry in chronology.entries]
    pages = paginate(rows)
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=(PAGE_W, PAGE_H), pageCompression=1)
    _metadata(canvas, chronology)
    for number, page in enumerate(pages, start=1):
        _frame(canvas, chronology, number, len(pages))
        top = TABLE_TOP_FIRST if number == 1 else TABLE_TOP
        _headings(canvas, top)
        for piece in page.pieces:
            _draw(canvas, piece)
        if not page.pieces and number == 1:
            canvas.setFont(FONT, SIZE + 1)
            canvas.drawString(MARGIN + PAD, top - 2 * LEAD - 2 * PAD, "No entries match.")
        canvas.showPage()
    canvas.save()
    return out.getvalue()


def _title(chronology: Chronology) -> str:
    names = "; ".join(f"{c.display_name} ({c.reference})" for c in chronology.children)
    return plain(f"Chronology: {names}")


def _metadata(canvas: Canvas, chronology: Chronology) -> None:
    canvas.setTitle(_title(chronology))
    canvas.setAuthor(plain(chronology.generated_by))
    canvas.setSubject(MARKING)
    canvas.setCreator("Jigsaw")


def _frame(canvas: Canvas, chronology: Chronology, number: int, total: int) -> None:
    """The marking top and bottom, the running title, who and when, the page number."""
    canvas.setFillColorRGB(0, 0, 0)
    canvas.setFont(BOLD, 11)
    canvas.drawCentredString(PAGE_W / 2, PAGE_H - 22, MARKING)
    canvas.drawCentredString(PAGE_W / 2, 16, MARKING)
    canvas.setFont(FONT, SIZE)
    when = chronology.generated_at.strftime("%Y-%m-%d %H:%M UTC")
    generated = plain(f"Generated by {chronology.generated_by} on {when}")
    canvas.drawString(MARGIN, 16, generated)
    canvas.drawRightString(PAGE_W - MARGIN, 16, f"Page {number} of {total}")
    if number > 1:
        canvas.setFont(BOLD, 10)
        canvas.drawString(MARGIN, PAGE_H - 44, _title(chronology))
        return
    canvas.setFont(BOLD, 15)
    canvas.drawString(MARGIN, PAGE_H - 50, _title(chronology))
    canvas.setFont(FONT, 9)
    child = chronology.children[0]
    born = f", born {child.date_of_birth.isoformat()}" if child.date_of_birth else ""
    refs = ", ".join(c.reference for c in chronology.children)
    lines = [f"Child reference: {refs}{born}"]
    lines += simpleSplit(
        plain(describe(chronology.filters, chronology.agency_names)), FONT, 9, PAGE_W - 2 * MARGIN
    )
    lines.append(f"{generated}. {len(chronology.entries)} entries.")
    for n, line in enumerate(lines[:4]):
        canvas.drawString(MARGIN, PAGE_H - 66 - n * 11, plain(line))


def _headings(canvas: Canvas, top: float) -> None:
    height = LEAD + 2 * PAD
    canvas.setFillColorRGB(0.88, 0.9, 0.94)
    canvas.rect(MARGIN, top - height, sum(WIDTHS), height, stroke=0, fill=1)
    canvas.setFillColorRGB(0, 0, 0)
    canvas.setFont(BOLD, SIZE)
    x = MARGIN
    for heading, width in zip(HEADINGS, WIDTHS, strict=True):
        canvas.drawString(x + PAD, top - PAD - SIZE, heading)
        x += width


def _draw(canvas: Canvas, piece: Piece) -> None:
    height = (piece.end - piece.start) * LEAD + 2 * PAD
    if piece.row.significant:
        canvas.setFillColorRGB(1, 0.96, 0.82)
        canvas.rect(MARGIN, piece.y - height, sum(WIDTHS), height, stroke=0, fill=1)
        canvas.setFillColorRGB(0, 0, 0)
    # One text object per row: beginning one per cell cost a fifth of the PDF's time.
    text = canvas.beginText()
    x = MARGIN
    for n, (cell, width) in enumerate(zip(piece.row.cells, WIDTHS, strict=True)):
        text.setTextOrigin(x + PAD, piece.y - PAD - SIZE)
        text.setFont(BOLD if n == 0 and piece.row.significant else FONT, SIZE, LEAD)
        for line in cell[piece.start : piece.end]:
            text.textLine(line)
        x += width
    canvas.drawText(text)
    canvas.setStrokeColorRGB(0.75, 0.75, 0.75)
    canvas.setLineWidth(0.4)
    canvas.line(MARGIN, piece.y - height, MARGIN + sum(WIDTHS), piece.y - height)
