"""The README and docs stay true: every figure quoted from a published file is in a generated
block that regenerates from the committed JSON; every rule the reference implements has its
formula in docs/rules.md; every link resolves; the Python examples run."""

import json
import re
import shutil
from pathlib import Path

import pytest

from xbench.jobs.report import doc_pages, load_inputs
from xbench.records.layout import newest_inputs
from xbench.workloads.cases import OPTIMIZERS, RULES, VARIANTS
from xbench.workloads.catalogue import default_catalogue

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
PAGES = [REPO / "README.md", *sorted(DOCS.glob("*.md"))]


def published_machines():
    runs, checks = newest_inputs(REPO / "results")
    return load_inputs(runs, checks, run_folders=True, check_folders=True)


def test_every_generated_block_in_the_docs_is_up_to_date():
    pages = doc_pages(DOCS, published_machines(), REPO / "results")
    assert {p.name for p in pages} >= {"bench.md", "check.md", "compare.md"}
    for page, (text, regenerated) in pages.items():
        assert text == regenerated, f"{page.name} is stale: run `make report`"


def test_a_stale_figure_in_a_block_is_noticed(tmp_path):
    docs = tmp_path / "docs"
    shutil.copytree(DOCS, docs)
    page = docs / "check.md"
    text = page.read_text()
    figure = re.search(r"worst err/tol (\d\.\de-\d+)", text).group(0)  # the published one
    stale = figure[:-4] + ("1" if figure[-4] != "1" else "2") + figure[-3:]  # 3.2e-4 → 3.1e-4
    page.write_text(text.replace(figure, stale))
    pages = doc_pages(docs, published_machines(), REPO / "results")
    old, new = pages[page]
    assert old != new and stale in old and figure in new and stale not in new


def test_the_catalogue_cites_the_rules_page_and_the_page_exists():
    reasons = {e.reason for e in default_catalogue()}
    assert "same update rule (docs/rules.md)" in reasons
    assert not any("SPEC.md" in r for r in reasons)
    assert (DOCS / "rules.md").is_file()


def rule_sections() -> set[str]:
    text = (DOCS / "rules.md").read_text()
    return set(re.findall(r"^### `([a-z0-9_]+)`", text, re.M))


def test_every_optimizer_and_rule_has_its_formula_in_the_rules_page():
    assert set(OPTIMIZERS) | set(RULES) <= rule_sections()
    text = (DOCS / "rules.md").read_text()
    for variant in (v for v in VARIANTS if v):
        assert f"`{variant}`" in text, variant


def test_the_section_check_notices_a_missing_rule(monkeypatch):
    monkeypatch.setattr(
        Path, "read_text", lambda self, *a, **k: "### `sgd`\n### `none`\n", raising=True
    )
    assert rule_sections() == {"sgd", "none"}
    assert not set(RULES) <= rule_sections()


LINK = re.compile(r"\]\(([^)#\s]+)(#[^)]*)?\)")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_resolves(page):
    for target, _ in LINK.findall(page.read_text()):
        if "://" in target:
            continue
        assert (page.parent / target).exists(), f"{page.name} links to missing {target}"


def test_the_readme_is_a_front_page():
    text = (REPO / "README.md").read_text()
    assert len(text.splitlines()) < 130
    assert "make test" in text and "make bench" in text
    for page in DOCS.glob("*.md"):
        assert f"docs/{page.name}" in text, f"README does not lead to {page.name}"
    makefile = (REPO / "Makefile").read_text()
    for target in re.findall(r"^([a-z]+):.*## ", makefile, re.M):
        if target not in ("help", "install", "lint"):
            assert f"make {target}" in text, target
    assert max(map(len, text.splitlines())) < 400  # no table hundreds of characters wide


def python_blocks(page: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", page.read_text(), re.S)


def test_the_python_examples_run(monkeypatch, capsys):
    pytest.importorskip("torch")
    monkeypatch.chdir(REPO)
    blocks = python_blocks(DOCS / "python-api.md")
    assert len(blocks) == 5
    namespace: dict = {}
    for code in blocks:
        exec(compile(code, "python-api.md", "exec"), namespace)
    printed = capsys.readouterr().out
    assert "equal at every step" in printed and "held" in printed
    assert "differs from step 1 in bn0/running_mean" in printed  # the batch-norm block
    assert "update-adamw-weight_decay-torch-forloop-1e4-one 1." in printed  # the ab block


def _durations_tool():
    import importlib.util

    spec = importlib.util.spec_from_file_location("durations", REPO / "tools" / "durations.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_durations_the_docs_quote_are_generated_from_measurements(tmp_path):
    """docs/architecture.md's table is what tools/durations.py renders from the committed
    measurements, byte for byte; a figure typed into the page (the perturbed copy) is not."""
    durations = _durations_tool()
    files = sorted((REPO / "results" / "durations").glob("*.json"))
    assert files, "no measured durations committed (make durations)"
    page = (REPO / "docs" / "architecture.md").read_text()
    block = page.split(durations.START)[1].split(durations.END)[0]
    assert block == "\n" + durations.render()
    for path in files:
        doc = json.loads(path.read_text())
        assert {"check, cold", "check, warm", "study --quick", "make test"} <= set(doc["durations"])
    typed = tmp_path / "architecture.md"
    typed.write_text(
        page.replace(durations.END, "| make test | `make test` | 60 s |\n" + durations.END)
    )
    changed = typed.read_text().split(durations.START)[1].split(durations.END)[0]
    assert changed != "\n" + durations.render()


def test_readme_makefile_and_help_texts_quote_no_typed_duration():
    """Durations live in the generated table only: a '~4 min' typed into the README, a
    Makefile help line or a command's help goes stale the day the suite grows."""
    from xbench.cli import build_parser

    typed = re.compile(r"((~|<|about )\s*\d+(\.\d+)?|\d+–\d+)\s*(s|sec|seconds|min|minutes)\b")
    texts = {"README.md": (REPO / "README.md").read_text(),
             "Makefile": (REPO / "Makefile").read_text()}  # fmt: skip
    parser = build_parser()
    for name, sub in parser._subparsers._group_actions[0].choices.items():
        texts[f"xbench {name} --help"] = sub.format_help()
    for page in DOCS.glob("*.md"):  # the command blocks at the top of each page
        blocks = re.findall(r"```sh\n(.*?)```", page.read_text(), re.S)
        texts[f"docs/{page.name}"] = "\n".join(blocks)
    for name, text in texts.items():
        assert not typed.search(text), f"{name}: {typed.search(text).group(0)}"
    assert typed.search("make test (~4 min on 2 cores)") and typed.search("(1–2 min)")
