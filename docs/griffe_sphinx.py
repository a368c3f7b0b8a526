"""A griffe extension: this package's docstring markup as Markdown, for the API reference only.

The docstrings are written for ``help()``, doctest and Sphinx-style readers: roles such as
``:class:`~bounded_lr_resolver.errors.BoundsError```, ``.. math::`` and ``.. code-block::``
directives, and bare ``>>>`` examples. mkdocstrings renders a docstring as Markdown, where a role
stays literal text and ``>>>`` becomes three nested block quotes. This extension rewrites a copy of
each docstring as griffe loads it (the source is unchanged): a role becomes inline code of the name
(the last part with ``~``), a directive's body a fenced block, and each run of ``>>>`` lines a
``pycon`` block (except in an ``Examples:`` section, which griffe renders as code itself).
mkdocs.yml loads it (``extensions:`` of the python handler).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

__all__ = ["SphinxMarkup", "markdown"]

ROLE = re.compile(r":(?:func|class|meth|mod|data|attr|exc|obj):`(~?)([^`]+)`")
DIRECTIVE = re.compile(r"^(\s*)\.\. (math|code-block)::\s*(\S.*)?$")
PROMPT = re.compile(r"^(\s*)>>> ")
EXAMPLES = re.compile(r"^(\s*)Examples?:\s*$")


def _role(match: re.Match[str]) -> str:
    short, name = match.groups()
    return f"`{name.rsplit('.', 1)[-1] if short else name}`"


def _directive(lines: list[str], index: int, out: list[str]) -> int:
    """A ``.. math::`` or ``.. code-block:: python`` at ``lines[index]`` as a fenced block."""
    indent, kind, argument = DIRECTIVE.match(lines[index]).groups()  # type: ignore[union-attr]
    language = "tex" if kind == "math" else (argument or "text").strip()
    body = [argument.strip()] if kind == "math" and argument else []
    index += 1
    while index < len(lines) and (not lines[index].strip() or _deeper(lines[index], indent)):
        body.append(lines[index].strip() if kind == "math" else lines[index])
        index += 1
    while body and not body[-1].strip():
        body.pop()
    if kind != "math":
        depth = min(len(line) - len(line.lstrip()) for line in body if line.strip())
        body = [line[depth:] for line in body]
    if kind == "math":
        body = [line for line in body if line]
    fence = f"{indent}```"
    out += [fence + language, *(f"{indent}{line}" if line else "" for line in body), fence, ""]
    return index


def _deeper(line: str, indent: str) -> bool:
    return len(line) - len(line.lstrip()) > len(indent)


def _examples(lines: list[str], index: int, out: list[str]) -> int:
    """A run of ``>>>`` lines and their output (up to a blank line) as a ``pycon`` block."""
    indent = PROMPT.match(lines[index]).group(1)  # type: ignore[union-attr]
    out.append(f"{indent}```pycon")
    while index < len(lines) and lines[index].strip():
        out.append(lines[index])
        index += 1
    out += [f"{indent}```", ""]
    return index


def markdown(docstring: str) -> str:
    """The docstring with its roles, directives and examples in Markdown.

    >>> print(markdown(":class:`~a.b.C` and :func:`d.e`"))
    `C` and `d.e`
    """
    lines = ROLE.sub(_role, docstring).splitlines()
    out: list[str] = []
    fenced = False  # inside a block the docstring fences itself: copied as it is
    examples: str | None = None  # the indent of an "Examples:" section, whose >>> griffe renders itself
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.lstrip().startswith("```"):
            fenced = not fenced
        if examples is not None and line.strip() and not _deeper(line, examples):
            examples = None
        if EXAMPLES.match(line):
            examples = EXAMPLES.match(line).group(1)  # type: ignore[union-attr]
        if not fenced and DIRECTIVE.match(line):
            index = _directive(lines, index, out)
        elif not fenced and examples is None and PROMPT.match(line):
            index = _examples(lines, index, out)
        else:
            out.append(lines[index])
            index += 1
    return "\n".join(out)


class SphinxMarkup(griffe.Extension):
    """Rewrite each loaded object's docstring with :func:`markdown` before it is parsed."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = markdown(obj.docstring.value)
