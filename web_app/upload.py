"""Batch uploads: a CSV file read into rows in the model's feature order,
with every mistake reported by the line number a person sees in an editor.

The file is read here with the contract's own CSV decoder (`web_app.contract`),
so the user hears about all bad lines at once before anything is sent, and
the app keeps the rows to offer inputs plus predictions as a download. The
endpoint validates again; its 422 rows are mapped to lines the same way.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

from shared.answers import AnswerBody, csv_answer_header
from shared.card import ModelCard
from shared.codecs.csv import decode_csv_request
from shared.codecs.rows import InputSchema
from shared.problems import CellError, InvalidRows, MalformedPayload, PayloadTooLarge
from web_app.present import Cell

#: How many problems one page lists; more are counted.
MAX_SHOWN_PROBLEMS = 20


class UploadError(Exception):
    """The upload cannot be predicted; `problems` are sentences naming lines."""

    def __init__(self, summary: str, problems: Sequence[str] = (), status: int = 422) -> None:
        super().__init__(summary)
        self.summary = summary
        self.problems = list(problems)
        self.status = status


@dataclass(frozen=True)
class Upload:
    rows: list[list[Cell]]  # model order
    lines: list[int]  # the file line on which each data row starts (1-based)
    header: bool

    def line_of(self, row: int) -> int | None:
        return self.lines[row] if 0 <= row < len(self.lines) else None


def read(data: bytes, card: ModelCard, max_rows: int) -> Upload:
    try:
        text = data.decode("utf-8-sig")  # spreadsheets like to start with a byte-order mark
    except UnicodeDecodeError as exc:
        raise UploadError(
            f"The file is not UTF-8 text (byte {exc.start} cannot be read). Save it as “CSV UTF-8” and try again.",
            status=400,
        ) from None
    records = _records(text)
    if not records:
        raise UploadError("The file is empty: it needs at least one row of values.", status=400)
    header = _looks_like_header(records[0][1], card)
    lines = [line for line, _ in records[1:]] if header else [line for line, _ in records]
    if header and not lines:
        raise UploadError("The file has a header line but no rows of values under it.")
    schema = InputSchema.from_card(card, max_rows)
    try:
        # The decoder marks a missing value NaN; the pages show it as None.
        rows = [
            [_missing_as_none(value) for value in row]
            for row in decode_csv_request(text, schema, header=header)
        ]
    except InvalidRows as exc:
        raise UploadError(
            "Some lines of the file cannot be used; nothing was sent to the model.",
            errors_by_line(exc.errors, lines, header),
        ) from None
    except PayloadTooLarge:
        raise UploadError(
            f"The file has {len(lines):,} rows; the limit is {max_rows:,}. Split it into smaller files.",
            status=413,
        ) from None
    except MalformedPayload as exc:
        raise UploadError(f"The file is not valid CSV: {exc.detail}", status=400) from None
    return Upload(rows, lines, header)


def _missing_as_none(value: float | str) -> Cell:
    return None if isinstance(value, float) and math.isnan(value) else value


def _records(text: str) -> list[tuple[int, list[str]]]:
    """Non-empty CSV records with the line each starts on, read exactly as
    `decode_csv_request` reads them so data row i here is data row i there."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records = []
    previous_end = 0
    try:
        for record in reader:
            if record:
                records.append((previous_end + 1, record))
            previous_end = reader.line_num
    except csv.Error as exc:
        raise UploadError(
            f"Line {reader.line_num} is not valid CSV ({exc}). Check its quotes.", status=400
        ) from None
    return records


def _looks_like_header(record: list[str], card: ModelCard) -> bool:
    """Whether a first line names the columns: any cell is a feature name,
    or a cell that is not a number stands where (in the model's order) a
    number belongs. A misspelt header is then reported as such, not as 'not
    a number'; a headerless first row may still carry categories, even ones
    the model does not know, which the decoder then names by line."""
    names = set(card.feature_names)
    categorical = [f.is_categorical for f in card.features]
    for i, cell in enumerate(record):
        text = cell.strip()
        if text in names:
            return True
        if not text or (i < len(categorical) and categorical[i]):
            continue
        try:
            float(text)
        except ValueError:
            return True
    return False


def errors_by_line(errors: Sequence[CellError], lines: Sequence[int], header: bool) -> list[str]:
    """Cell errors (0-based data rows) as sentences naming file lines."""
    out = []
    for error in errors[:MAX_SHOWN_PROBLEMS]:
        column = (
            f", column “{error.column}”"
            if isinstance(error.column, str)
            else (f", column {error.column + 1}" if isinstance(error.column, int) else "")
        )
        if error.row is None:
            where = "Line 1 (the header)" if header else "The columns"
        elif 0 <= error.row < len(lines):
            where = f"Line {lines[error.row]}"
        else:
            where = f"Data row {error.row + 1}"
        out.append(f"{where}{column}: {error.message}.")
    if len(errors) > MAX_SHOWN_PROBLEMS:
        out.append(f"… and {len(errors) - MAX_SHOWN_PROBLEMS} more.")
    return out


def _csv_cell(value: Cell) -> str:
    """A category as it is (the writer quotes it when it must), a number
    exactly (repr round-trips), a missing value empty."""
    if value is None:
        return ""
    return value if isinstance(value, str) else repr(value)


def result_csv(upload: Upload, card: ModelCard, body: AnswerBody) -> str:
    """Inputs in the model's order, then the prediction and, for a
    classifier, one probability column per class."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([*card.feature_names, *csv_answer_header(body.classes)])
    probabilities = body.probabilities or [[] for _ in upload.rows]
    for row, prediction, probs in zip(upload.rows, body.predictions, probabilities, strict=True):
        writer.writerow([_csv_cell(v) for v in row] + [prediction, *probs])
    return buffer.getvalue()


def size_in_words(size: int) -> str:
    """A size in bytes as a person reads it: "2.0 MB", "50 KB", "1,000 bytes"
    (a small limit printed as "0.0 MB" names no limit at all)."""
    if size >= 1_000_000:
        return f"{size / 1_000_000:.1f} MB"
    if size >= 10_000:
        return f"{size / 1_000:.0f} KB"
    return f"{size:,} bytes"
