"""Every decimal number in a notebook's prose is computed above it, or says where it comes from.

A number with a decimal point in a markdown cell (0.337, 2.5) passes when a code cell above it printed it (any
number in an output above that rounds to it, at the digits the prose gives), or when its paragraph (a list item
counts as a paragraph) carries one of the marks:
- `(paper)`, `(paper, Table 2)`: a figure from Park et al. 2019 or another cited paper;
- `(setting)`, `(setting: lr_G)`: a setting the course chose, not a measurement;
- `(committed run, CPU, 2026-12-07)`: the committed run's number, with the device and the date (YYYY-MM-DD) it ran.
Numbers in inline code and formulas ($...$) are settings or constants by nature and are not scanned, nor are
section, equation, figure and table numbers, versions (0.1.0) and link targets.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
MARK = re.compile(r"\((?:paper|setting)\b[^)]*\)|\(committed run, [^,()]+, \d{4}-\d{2}-\d{2}\)")
DECIMAL = re.compile(r"(?<![\w.])-?\d+\.\d+(?![\w.]*\d)")  # 0.337, 2.5; not 0.1.0, not inside a word
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")
NOT_SCANNED = [
    re.compile(r"```.*?```", re.DOTALL),  # code blocks
    re.compile(r"`[^`]*`"),  # inline code
    re.compile(r"\$\$.*?\$\$", re.DOTALL),  # display formulas
    re.compile(r"\$[^$]*\$"),  # inline formulas
    re.compile(r"\]\([^)]*\)"),  # link targets
    re.compile(r"https?://\S+"),  # bare addresses
    re.compile(r"\b(?:Sec|Secs|Section|Sections|Eq|Eqs|Fig|Figs|Figure|Table|Tables|Appendix|§)\.?\s*\(?[\d.]+"),
    re.compile(r"\bv?\d+(?:\.\d+){2,}\b"),  # versions
]


def paragraphs(markdown: str) -> list[str]:
    """A markdown cell's paragraphs: blocks between blank lines, each list item on its own."""
    text = markdown
    for pattern in NOT_SCANNED[:1]:
        text = pattern.sub(" ", text)
    blocks = re.split(r"\n\s*\n", text)
    return [item for block in blocks for item in re.split(r"\n(?=\s*(?:[-*+]|\d+\.)\s)", block)]


def unmarked_decimals(paragraph: str) -> list[str]:
    """The decimal numbers of a paragraph that no mark covers (those inside code, formulas and references dropped)."""
    if MARK.search(paragraph):
        return []
    for pattern in NOT_SCANNED:
        paragraph = pattern.sub(" ", paragraph)
    return DECIMAL.findall(paragraph)


def output_text(cell: dict) -> str:
    """Everything a code cell printed or displayed as text."""
    parts = []
    for output in cell.get("outputs", []):
        parts.append("".join(output.get("text", "")))
        for kind in ("text/plain", "text/markdown", "text/html"):
            parts.append("".join(output.get("data", {}).get(kind, "")))
    return "\n".join(parts)


def printed(number: str, outputs: list[float]) -> bool:
    """True when some printed number, rounded to the digits of `number`, is `number`."""
    digits = len(number.split(".")[1])
    value = float(number)
    return any(round(abs(out), digits) == round(abs(value), digits) for out in outputs)


def unbacked_numbers(path: Path) -> list[str]:
    """'cell N: 0.337 in "...paragraph..."' for each decimal number in path's prose that nothing above backs."""
    cells = json.loads(path.read_text())["cells"]
    outputs: list[float] = []
    problems = []
    for index, cell in enumerate(cells):
        source = "".join(cell["source"])
        if cell["cell_type"] == "code":
            outputs += [float(n) for n in NUMBER.findall(output_text(cell)) if re.fullmatch(r"[-\d.e+]+", n)]
            continue
        if cell["cell_type"] != "markdown":
            continue
        for paragraph in paragraphs(source):
            for number in unmarked_decimals(paragraph):
                if not printed(number, outputs):
                    excerpt = " ".join(paragraph.split())
                    at = excerpt.find(number)
                    problems.append(f"cell {index}: {number} in \"...{excerpt[max(0, at - 60): at + 40]}...\"")
    return problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_decimal_number_in_the_prose_is_printed_above_or_marked(path):
    problems = unbacked_numbers(path)
    assert not problems, (f"{path.name}: numbers with no output above that prints them and no mark "
                          "((paper), (setting), (committed run, DEVICE, YYYY-MM-DD)):\n" + "\n".join(problems))


def test_a_number_printed_above_passes_and_one_printed_nowhere_fails(tmp_path):
    notebook = {"cells": [
        {"cell_type": "markdown", "source": ["Before any code: 0.5 is a guess; `lr=0.5` is code; Sec. 3.1 a section."]},
        {"cell_type": "code", "source": [], "outputs": [{"output_type": "stream", "text": ["L1 0.3374 +- 0.004\n"]}]},
        {"cell_type": "markdown", "source": ["The decoder reached 0.337 (printed above), not 0.385.\n\n",
                                             "The paper reports 28.8 (paper, Table 1).\n\n",
                                             "- a list item: 0.07 at 9 classes (committed run, CPU, 2026-12-07)\n",
                                             "- another with 0.9 and no mark"]},
    ]}
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(notebook))
    found = [problem.split(" in ")[0] for problem in unbacked_numbers(path)]
    assert found == ["cell 0: 0.5", "cell 2: 0.385", "cell 2: 0.9"]
