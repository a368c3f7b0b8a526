"""Every code block of README.md and docs/*.md runs as shown, every link and anchor resolves, the site builds.

One test per block (``docs/resume.md:2``): a ``python`` block runs as a script in a fresh folder, a
``yaml`` block is composed by Hydra and resolved, a ``bash`` block runs its commands; each must exit
0 and print no warning. ``title="path"`` makes a block a file of the page's example, and an HTML
comment before the fence marks a block (``skip``, ``illustration``, ``continue``, ``output``,
``file``): the conventions are in docs/development.md, "Code blocks are tested". The python and
bash blocks start processes (seconds each) and are marked slow, as is the site build.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import HYDRA_14, run

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
BIN = Path(sys.executable).parent
LANGUAGES = {"python", "yaml", "bash", "text", ""}
FENCE = re.compile(r"^( *)```(\w*)\s*(.*)$")
MARK = re.compile(r"^<!-- docs-test: (skip|illustration|continue|output|file)\b\s*(.*?)\s*-->$")
TITLE = re.compile(r'title="([^"]+)"')
VERSION_BASE = ', version_base="1.3"'


@dataclass(frozen=True)
class Block:
    """One fenced code block of a page."""

    page: Path
    number: int  # 1-based, among the page's fenced blocks
    lang: str
    title: str | None
    mark: str | None
    argument: str  # the mark's reason, or the command of an output mark
    text: str

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.number}"


def blocks_of(page: Path) -> list[Block]:
    """The page's fenced blocks, with the mark on the line before each and its title."""
    lines = page.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        indent, lang, info = opening.groups()
        end = index + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        assert end < len(lines), f"{page.name}:{index + 1}: a code block is not closed"
        mark = MARK.match(lines[index - 1].strip()) if index else None
        title = TITLE.search(info)
        body = [line[len(indent) :] for line in lines[index + 1 : end]]
        found.append(
            Block(
                page=page,
                number=len(found) + 1,
                lang=lang,
                title=title.group(1) if title else None,
                mark=mark.group(1) if mark else None,
                argument=mark.group(2) if mark else "",
                text="\n".join(body) + "\n",
            )
        )
        index = end + 1
    return found


BLOCKS = {page: blocks_of(page) for page in PAGES}


OPTIONAL = {"lightning": "lightning", "keras": "keras"}
"""Modules of an optional extra (``extra`` by module): a block that uses one skips where it is missing."""


def _missing(block: Block) -> list[str]:
    """The optional modules a python block imports or names as a target (``"keras.optimizers..."``);
    for a shell block, those of the page's files it runs."""
    if block.lang == "bash":
        files = [b for b in BLOCKS[block.page] if b.title and b.lang == "python" and b.title in block.text]
        return sorted({name for file in files for name in _missing(file)})
    if block.lang != "python":
        return []
    names: set[str] = set()
    for node in ast.walk(ast.parse(block.text)):
        if isinstance(node, ast.Import):
            names.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.partition(".")[0])
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names.add(node.value.partition(".")[0])
    return sorted(name for name in names & set(OPTIONAL) if importlib.util.find_spec(name) is None)


def _params() -> list[object]:
    params: list[object] = []
    for blocks in BLOCKS.values():
        for block in blocks:
            if (block.lang in ("", "text") and block.mark is None) or block.mark == "file":
                continue  # output or a formula, not code; a file run by a later block
            marks: list[pytest.MarkDecorator] = []
            if block.mark in ("skip", "illustration"):
                marks.append(pytest.mark.skip(reason=f"{block.id} ({block.mark}): {block.argument}"))
            elif _missing(block):
                extras = ",".join(OPTIONAL[name] for name in _missing(block))
                reason = f"{block.id} needs {extras}, not installed: pip install -e '.[{extras}]'"
                marks.append(pytest.mark.skip(reason=reason))
            if block.lang in ("python", "bash") or block.mark == "output":
                marks.append(pytest.mark.slow)
            params.append(pytest.param(block, id=block.id, marks=marks))
    return params


def _prepare(block: Block, workdir: Path) -> None:
    """The folder a user has at this block: a checkout's ``docs/`` and the page's files so far."""
    (workdir / "docs").mkdir(exist_ok=True)
    for earlier in BLOCKS[block.page]:
        if earlier.number > block.number:
            break
        if earlier.title and earlier.mark not in ("skip", "illustration"):
            path = workdir / earlier.title
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(_as_run(earlier.text), encoding="utf-8")


def _as_run(text: str) -> str:
    """What a user of the installed stack writes: no version_base on hydra-core 1.4."""
    return text.replace(VERSION_BASE, "") if HYDRA_14 else text


def _python_source(block: Block) -> str:
    if block.mark != "continue":
        return block.text
    earlier = [b for b in BLOCKS[block.page] if b.number < block.number and b.lang == "python"]
    assert earlier, f"{block.id}: 'continue' needs an earlier python block on the page"
    return _python_source(earlier[-1]) + "\n" + block.text


def _commands(text: str) -> list[list[str]]:
    """The shell block's commands, continuations joined, comments dropped, ``&&`` split."""
    joined = re.sub(r"\\\n\s*", " ", text)
    commands: list[list[str]] = []
    for line in joined.splitlines():
        words = shlex.split(line, comments=True)
        while words:
            head, _, words = _split_and(words)
            commands.append(head)
    return commands


def _split_and(words: list[str]) -> tuple[list[str], str, list[str]]:
    if "&&" in words:
        at = words.index("&&")
        return words[:at], "&&", words[at + 1 :]
    return words, "", []


def _argv(words: list[str], block: Block, workdir: Path) -> list[str]:
    """A documented command as this venv runs it; an unknown one fails, asking for a mark."""
    settings = []
    while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", words[0]):  # OMP_NUM_THREADS=1 torchrun ...
        settings.append(words.pop(0))
    if settings:
        return ["env", *settings, *_argv(words, block, workdir)]
    name = words[0].removeprefix(".venv/bin/")
    if name == "bounded-lr":
        return [str(BIN / "bounded-lr"), *words[1:]]
    if name in ("python", "python3", "torchrun"):
        script = next(word for word in words[1:] if not word.startswith("-"))
        assert (workdir / script).is_file(), f"{block.id}: {script} is not a file of the page"
        return [sys.executable if name != "torchrun" else str(BIN / "torchrun"), *words[1:]]
    if name in ("cp", "mkdir", "ls", "cat"):
        return words
    raise AssertionError(
        f"{block.id}: the tests do not know how to run {words[0]!r}: "
        "mark the block <!-- docs-test: skip REASON --> or <!-- docs-test: illustration REASON -->"
    )


def _compose(block: Block, workdir: Path) -> None:
    """Compose the block as a primary config, as ``@hydra.main`` would, and resolve every value."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    parts = Path(block.title).parts if block.title else ("conf", "config.yaml")
    config_dir = workdir / parts[0]
    path = workdir.joinpath(*parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(block.text, encoding="utf-8")
    name = "/".join(parts[1:]).removesuffix(".yaml")
    with initialize_config_dir(str(config_dir), **({} if HYDRA_14 else {"version_base": "1.3"})):
        cfg = compose(name)
    OmegaConf.to_container(cfg, resolve=True)


@pytest.mark.parametrize("block", _params())
def test_code_block_runs(block: Block, tmp_path: Path) -> None:
    assert block.lang in LANGUAGES, f"{block.id}: unknown language {block.lang!r}; use one of {LANGUAGES}"
    _prepare(block, tmp_path)
    if block.mark == "output":
        words = shlex.split(block.argument)
        done = run(_argv(words, block, tmp_path), cwd=tmp_path)
        assert done.stdout.strip() == block.text.strip()
    elif block.lang == "python":
        script = block.title or "example.py"
        (tmp_path / script).write_text(_as_run(_python_source(block)), encoding="utf-8")
        run([sys.executable, script], cwd=tmp_path)
    elif block.lang == "yaml":
        _compose(block, tmp_path)
    elif block.lang == "bash":
        commands = _commands(block.text)
        assert commands, f"{block.id}: no command"
        for words in commands:
            run(_argv(words, block, tmp_path), cwd=tmp_path)
    else:
        raise AssertionError(f"{block.id}: a {block.lang or 'plain'} block with a mark it cannot use")


def test_every_file_block_is_run_by_a_later_block() -> None:
    for blocks in BLOCKS.values():
        for block in blocks:
            if block.mark == "file":
                assert block.title, f'{block.id}: a file block needs title="path"'
                later = [b.text for b in blocks if b.number > block.number and b.lang == "bash"]
                assert any(block.title in text for text in later), f"{block.id}: no later block runs it"


def test_every_python_block_on_hydra_main_writes_version_base() -> None:
    """The docs write what a user of hydra-core 1.3 needs; the tests drop it on 1.4, as the docs say."""
    for blocks in BLOCKS.values():
        for block in blocks:
            if block.lang == "python" and "@hydra.main(" in block.text:
                assert VERSION_BASE in block.text, block.id


# -- links and anchors: the site checks its own (mkdocs strict); README.md and GitHub's view are checked here


LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")


def _markdown_slug(heading: str) -> str:
    """Python-Markdown's toc slug (the site's anchors)."""
    value = unicodedata.normalize("NFKD", heading).encode("ascii", "ignore").decode("ascii")
    value = re.sub(r"[^\w\s-]", "", value).strip().lower()
    return re.sub(r"[-\s]+", "-", value)


def _github_slug(heading: str) -> str:
    """GitHub's anchor for a heading (how README.md and the pages are read on GitHub)."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def _headings(page: Path) -> list[str]:
    included = re.match(r'--8<-- "([^"]+)"', page.read_text(encoding="utf-8"))
    if included:  # docs/benchmarks.md is BENCHMARKS.md, included whole
        page = ROOT / included.group(1)
    text = re.sub(r"^```.*?^```", "", page.read_text(encoding="utf-8"), flags=re.S | re.M)
    return [re.sub(r"`", "", line.lstrip("#").strip()) for line in text.splitlines() if line.startswith("#")]


def _objects(page: Path) -> set[str]:
    """The objects a page documents with mkdocstrings (``::: bounded_lr_resolver.scheduler.BoundedLR``)."""
    if page.suffix != ".md":
        return set()
    return set(re.findall(r"^::: (\S+)$", page.read_text(encoding="utf-8"), flags=re.M))


def _links(page: Path) -> list[str]:
    text = re.sub(r"^```.*?^```", "", page.read_text(encoding="utf-8"), flags=re.S | re.M)
    return [a or b for a, b in LINK.findall(text)]


@pytest.mark.parametrize("page", PAGES, ids=[str(page.relative_to(ROOT)) for page in PAGES])
def test_links_and_anchors_resolve_on_github_and_the_site(page: Path) -> None:
    """Each relative link names a file that exists; each anchor is a heading of its target, and the
    same anchor on GitHub and in the site (so the headings linked to avoid what the two slug differently)."""
    for link in _links(page):
        if re.match(r"[a-z]+:", link):
            continue  # https:, mailto:
        target, _, anchor = link.partition("#")
        path = (page.parent / target).resolve() if target else page
        assert path.exists(), f"{page.name}: {link} does not exist"
        if page.parent == DOCS:
            assert path.is_relative_to(DOCS), f"{page.name}: {link} is outside docs/: the site lacks it"
        if anchor in _objects(path):
            continue  # an object of the API reference: its anchor is its import path
        if anchor:
            headings = _headings(path)
            assert anchor in {_markdown_slug(h) for h in headings}, f"{page.name}: {link}: no such heading"
            if not _included(path):  # GitHub shows an included page as its include line
                assert anchor in {_github_slug(h) for h in headings}, f"{page.name}: {link}: not on GitHub"


def test_readme_is_a_front_door_linking_every_page() -> None:
    """At most 200 lines, and every page of the site is one click away."""
    readme = ROOT / "README.md"
    assert len(readme.read_text(encoding="utf-8").splitlines()) <= 200
    linked = {(ROOT / link.partition("#")[0]).resolve() for link in _links(readme)}
    pages = {page.resolve() for page in DOCS.glob("*.md") if page.name != "index.md" and not _included(page)}
    assert sorted(p.name for p in pages - linked) == []


def _included(page: Path) -> bool:
    """A page that is a file of the repository root, included whole (BENCHMARKS.md, TESTING.md)."""
    return page.read_text(encoding="utf-8").startswith("--8<--")


def test_the_site_lists_every_page() -> None:
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert sorted(p.name for p in DOCS.glob("*.md") if f" {p.name}\n" not in nav) == []


@pytest.mark.slow
def test_site_builds_in_strict_mode(tmp_path: Path) -> None:
    """``mkdocs build --strict``: a broken link or anchor, a missing page or a docstring griffe cannot
    read fails the build (what CI runs)."""
    if shutil.which("mkdocs", path=str(BIN)) is None:
        pytest.skip("mkdocs is not installed: pip install -e '.[docs]'")
    done = subprocess.run(
        [str(BIN / "mkdocs"), "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "site" / "api" / "index.html").is_file()
