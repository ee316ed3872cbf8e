"""The tables of a markdown report, read back as the reader sees them, for tests that trace
a report's cells to their trials."""
from itertools import dropwhile, takewhile


def markdown_table(report: str, heading: str) -> list[dict[str, str]]:
    """The rows of the first markdown table under `heading`, as {column: cell}."""
    is_row = lambda line: line.startswith("|")  # noqa: E731
    lines = report.split(heading, 1)[1].split("\n")
    table = list(takewhile(is_row, dropwhile(lambda line: not is_row(line), lines)))
    header = [c.strip() for c in table[0].strip("|").split("|")]
    return [dict(zip(header, (c.strip() for c in row.strip("|").split("|")))) for row in table[2:]]


def rows_by_name(report: str, heading: str) -> dict[str, dict[str, str]]:
    """The same rows keyed by their first cell (the model or method they report)."""
    return {next(iter(row.values())): row for row in markdown_table(report, heading)}
