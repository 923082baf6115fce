"""The function steps of ``workflows/research.yaml``: search the repository's docs, collate, decide.

The searches are plain keyword matching over paragraphs (no network, no index), so the workflow runs
anywhere the repository is checked out; what the model adds is the answer written from them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from kern.workflow import StepInput

REPO = Path(__file__).resolve().parent.parent
PASSAGES_PER_SOURCE = 3
NOTHING_FOUND = "Nothing in the README or docs/ matches the question"

_STOPWORDS = frozenset(
    {
        "about", "after", "also", "does", "from", "have", "into", "just", "more", "most", "only", "other",
        "over", "some", "such", "than", "that", "their", "them", "then", "there", "these", "they", "this",
        "what", "when", "where", "which", "while", "with", "without", "would", "your", "kern",
    }
)  # fmt: skip


def search_readme(step_input: StepInput) -> list[dict[str, str]]:
    """The README's paragraphs that best match the question."""
    return _search(step_input.input, [REPO / "README.md"])


def search_docs(step_input: StepInput) -> list[dict[str, str]]:
    """The paragraphs of docs/*.md that best match the question."""
    return _search(step_input.input, sorted((REPO / "docs").glob("*.md")))


def collate_passages(step_input: StepInput, session_state: dict[str, Any]) -> str:
    """The passages both searches found, numbered for citing; the question is kept in the session."""
    gathered = step_input.get_step_content("gather") or {}
    passages = [*gathered.get("readme", []), *gathered.get("docs", [])]
    session_state.setdefault("questions", []).append(step_input.input)
    session_state["sources"] = sorted({passage["source"] for passage in passages})
    if not passages:
        return f"{NOTHING_FOUND}: {step_input.input}"
    return "\n\n".join(f"[{i}] ({p['source']}) {p['text']}" for i, p in enumerate(passages, start=1))


def found_passages(step_input: StepInput) -> bool:
    """Whether there is anything to write an answer from."""
    return not step_input.previous_step_content.startswith(NOTHING_FOUND)


def _search(question: str, files: list[Path]) -> list[dict[str, str]]:
    wanted = _words(question)
    scored: list[tuple[int, int, dict[str, str]]] = []
    for file in files:
        source = file.relative_to(REPO).as_posix()
        for paragraph in _paragraphs(file.read_text(encoding="utf-8")):
            score = len(wanted & _words(paragraph))
            if score:
                scored.append((-score, len(scored), {"source": source, "text": paragraph}))
    return [passage for _, _, passage in sorted(scored)[:PASSAGES_PER_SOURCE]]


def _paragraphs(text: str) -> list[str]:
    """Prose paragraphs: blank-line separated, without headings and code blocks."""
    found: list[str] = []
    prose = re.sub(r"^```.*?^```", "", text, flags=re.DOTALL | re.MULTILINE)
    for block in re.split(r"\n\s*\n", prose):
        block = block.strip()
        if block and not block.startswith(("#", "|")):
            found.append(" ".join(block.split()))
    return found


def _words(text: str) -> set[str]:
    return {word for word in re.findall(r"[a-z][a-z_]{3,}", text.lower()) if word not in _STOPWORDS}
