"""The architecture holds (docs/architecture.md): layers kept by import-linter's contracts,
which break when a lower layer imports a higher one; one module per command with each shared
flag declared once; short functions; every package in the wheel."""

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import xbench

REPO = Path(__file__).resolve().parents[2]
PACKAGE = Path(xbench.__file__).resolve().parent
LONG_FUNCTION = 60  # lines, docstring included
LONG_REASON = "Long because"  # a longer function says why in its docstring


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """import-linter over the packages found first on the path from ``root`` (which holds the
    configuration, pyproject.toml)."""
    pytest.importorskip("importlinter")
    code = "import sys; from importlinter.cli import lint_imports_command as c; sys.exit(c())"
    return subprocess.run(
        [sys.executable, "-c", code, "--no-cache"],
        cwd=root,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
    )


def a_copy(tmp_path: Path) -> Path:
    """The package, its adapters (as ``xbench_adapters``) and pyproject.toml, in ``tmp_path``."""
    shutil.copytree(PACKAGE, tmp_path / "xbench", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "adapters", tmp_path / "xbench_adapters")
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    return tmp_path


def test_every_import_contract_is_kept(tmp_path):
    done = lint_imports(a_copy(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Contracts: 3 kept, 0 broken." in done.stdout


@pytest.mark.parametrize(
    "module, line, contract",
    [
        ("workloads/models.py", "from xbench.present import units", "in layers"),
        ("records/storage.py", "import xbench.jobs.check", "in layers"),
        ("analysis/compare.py", "from xbench.cli import main", "in layers"),
        ("jobs/trace.py", "import xbench.study.job", "in layers"),  # siblings are independent
        ("translate/job.py", "import xbench.jobs.check", "in layers"),
        ("present/units.py", "import xbench_adapters.reference", "only through its registry"),
    ],
)
def test_a_forbidden_import_breaks_a_contract(tmp_path, module, line, contract):
    root = a_copy(tmp_path)
    path = root / "xbench" / module
    path.write_text(path.read_text() + f"\n{line}  # deliberately against the layers\n")
    done = lint_imports(root)
    assert done.returncode == 1, done.stdout
    broken = [line for line in done.stdout.splitlines() if line.endswith(" BROKEN")]
    assert any(contract in line for line in broken), done.stdout
    importer = "xbench." + module.removesuffix(".py").replace("/", ".")
    assert re.search(rf"^-\s+{re.escape(importer)} -> ", done.stdout, re.M), done.stdout


def test_an_adapter_reaching_up_breaks_its_contract(tmp_path):
    root = a_copy(tmp_path)
    path = root / "xbench_adapters" / "reference.py"
    path.write_text(path.read_text() + "\nfrom xbench.run import registry  # against the rule\n")
    done = lint_imports(root)
    assert done.returncode == 1 and "adapters build on the workloads only BROKEN" in done.stdout


# ----------------------------------------------------------------------------- the CLI

SHARED_FLAGS = ("--device", "--threads", "--results", "--overwrite", "--label", "--list")


def test_one_module_per_command_each_with_its_parser_and_runner():
    from xbench.cli import COMMANDS, build_parser

    assert {c.__name__.rsplit(".", 1)[1] for c in COMMANDS} == {
        p.stem for p in (PACKAGE / "cli").glob("*.py") if p.stem not in ("__init__", "options")
    }
    for command in COMMANDS:
        assert callable(command.add_parser) and callable(command.run)
    build_parser()  # every command's parser builds


def declarations(path: Path, flag: str) -> int:
    """How many ``add_argument("<flag>", ...)`` calls ``path`` makes."""
    return sum(
        isinstance(node, ast.Call)
        and getattr(node.func, "attr", "") == "add_argument"
        and any(isinstance(a, ast.Constant) and a.value == flag for a in node.args)
        for node in ast.walk(ast.parse(path.read_text()))
    )


@pytest.mark.parametrize("flag", SHARED_FLAGS)
def test_each_shared_flag_is_declared_once(flag):
    declared = {p.name: declarations(p, flag) for p in sorted((PACKAGE / "cli").glob("*.py"))}
    assert {name: n for name, n in declared.items() if n} == {"options.py": 1}


def test_the_declaration_count_sees_a_second_declaration(tmp_path):
    twice = tmp_path / "twice.py"
    twice.write_text('p.add_argument("--device")\nq.add_argument("--device", default="cpu")\n')
    assert declarations(twice, "--device") == 2 and declarations(twice, "--label") == 0


# ----------------------------------------------------------------------------- functions


def long_functions(paths) -> list[str]:
    """Functions over LONG_FUNCTION lines whose docstring does not say why."""
    found = []
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                reason = LONG_REASON in (ast.get_docstring(node) or "")
                if lines > LONG_FUNCTION and not reason:
                    found.append(f"{path.name}:{node.lineno} {node.name} ({lines} lines)")
    return found


def test_no_function_is_long_without_a_reason():
    paths = [*PACKAGE.rglob("*.py"), *(REPO / "adapters").glob("*.py")]
    assert long_functions(paths) == []


def test_the_length_check_notices_a_long_function(tmp_path):
    body = "\n".join(f"    x = {i}" for i in range(LONG_FUNCTION))
    long = tmp_path / "long.py"
    long.write_text(f"def long():\n{body}\n")
    assert long_functions([long]) == ["long.py:1 long (61 lines)"]
    long.write_text(f'def long():\n    """{LONG_REASON}: a table."""\n{body}\n')
    assert long_functions([long]) == []


# ----------------------------------------------------------------------------- packaging


def test_every_package_is_in_the_wheel():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {
        "xbench" + ".".join(["", *p.parent.relative_to(PACKAGE).parts])
        for p in PACKAGE.rglob("__init__.py")
    }
    assert found | {"xbench_adapters"} == listed
    assert "pytest.ini" in config["package-data"]["xbench.suite"]


def test_tests_hold_tests_only():
    """The benchmark suite ships in the package; tests/ holds no benchmark."""
    for path in (REPO / "tests").rglob("*.py"):
        assert not re.search(r"^def test_\w+\(benchmark", path.read_text(), re.M), path.name


TEST_IMPORT = re.compile(
    r"^\s*(?:from|import) (?:(?:tests\.)?(?:\w+\.)?test_\w+|(?:tests\.)?conftest)\b", re.M
)


def test_no_test_file_imports_another():
    """Shared builders live in tests/helpers.py; a test file imported by another (or the
    conftest imported as a module) is refused. Perturbed: such a line is found."""
    for path in (REPO / "tests").rglob("*.py"):
        assert not TEST_IMPORT.search(path.read_text()), path.relative_to(REPO)
    assert TEST_IMPORT.search("import json\nfrom test_cli import run_cli\n")
    assert TEST_IMPORT.search("    from conftest import adapter_class\n")
    assert TEST_IMPORT.search("from tests.jobs.test_ab import synthetic\n")
    assert not TEST_IMPORT.search("from tests.helpers import run_cli\n")


def test_tests_mirror_the_packages():
    """Each folder of tests/ is a layer or feature package of xbench, the adapters, or one of
    the two cross-cutting folders. Perturbed: a folder named after no package is refused."""
    allowed = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    allowed |= {"adapters", "properties", "project"}
    folders = {p.name for p in (REPO / "tests").iterdir() if p.is_dir() and p.name[0] != "_"}
    assert folders <= allowed, folders - allowed
    assert not (folders | {"misc"}) <= allowed  # a stray folder is caught


def table_modules(text: str) -> list[tuple[str, str]]:
    """(layer, module) for each module named in docs/architecture.md's table of commands:
    ``layer/module`` as written, a bare name in the column of its layer."""
    rows = [line.split("|")[1:-1] for line in text.splitlines() if line.startswith("| `")]
    found = []
    for row in rows:
        layers = ("cli", "jobs", "run", "records", "analysis", "present")
        for layer, cell in zip(layers, row[1:], strict=True):
            for name in re.findall(r"\b([a-z_]+(?:/[a-z_]+)?)\b", re.sub(r"\(.*?\)", "", cell)):
                found.append(tuple(name.split("/")) if "/" in name else (layer, name))
    return found


def test_the_command_table_names_modules_that_exist():
    """Perturbed: a module that does not exist is caught."""
    text = (REPO / "docs" / "architecture.md").read_text()
    found = table_modules(text)
    assert len(found) > 60
    missing = [f"{a}/{b}" for a, b in found if not (PACKAGE / a / f"{b}.py").is_file()]
    assert not missing, missing
    bad = table_modules("| `x` | cli/x | jobs/nothing_here | | | | |")
    assert [m for m in bad if not (PACKAGE / m[0] / f"{m[1]}.py").is_file()]
