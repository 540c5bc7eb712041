"""How long xbench's own commands take on this machine, measured on a fresh clone; the
figures the docs quote are generated from what this writes (make durations).

    python tools/durations.py            # clone HEAD, install, then time each command once
    python tools/durations.py --ci       # ... and `bash .ci/run` (CI=true) last
    python tools/durations.py --render   # only rewrite the docs' block from the JSON files

Each command runs once, in the order below, in a clone of HEAD in a new temporary folder
(the install is done first and not timed). The check runs twice: cold, with a compilation
cache folder of its own that starts empty (a user's first run), then warm (the same command
again). `make test` uses the user's cache (``~/.cache/xbench``), as a developer's does. The
results go to ``results/durations/<label>.json`` (one file per machine, replaced by a new
measurement, with the commit and date), and the table between the markers of
``docs/architecture.md`` is rewritten from every such file. ``tests/project/test_docs.py`` holds the
page to the files, byte for byte.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from xbench.run import machine  # noqa: E402
from xbench.run.threads import available_cpus  # noqa: E402

FOLDER = ROOT / "results" / "durations"
PAGE = ROOT / "docs" / "architecture.md"
START, END = "<!-- durations start -->", "<!-- durations end -->"
COMMANDS = {  # name -> (what a reader runs, what runs here in the clone)
    "check, cold": ("xbench check", ".venv/bin/xbench check --json {tmp}/cold.json"),
    "check, warm": ("xbench check", ".venv/bin/xbench check --json {tmp}/warm.json"),
    "study --quick": ("xbench study --quick", ".venv/bin/xbench study --quick --results {tmp}"),
    "make test": ("make test", "make test"),
}
CI = {"CI (.ci/run)": ("bash .ci/run", "bash .ci/run")}


def timed(command: str, clone: Path, env: dict) -> float:
    print(f"durations: {command}", flush=True)
    start = time.perf_counter()
    done = subprocess.run(command, shell=True, cwd=clone, env=env, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"durations: `{command}` exited {done.returncode}; nothing recorded")
    print(f"durations: {seconds:.1f} s", flush=True)
    return seconds


def measure(with_ci: bool) -> dict:
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True,
                            text=True, check=True).stdout.strip()  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="xbench-durations-") as tmp:
        clone = Path(tmp) / "clone"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("XBENCH_")}
        subprocess.run(["make", "install"], cwd=clone, env=env, check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        cold = {**env, "XBENCH_CACHE_DIR": str(Path(tmp) / "cache")}
        figures = {}
        for name, (shown, command) in {**COMMANDS, **(CI if with_ci else {})}.items():
            run_env = cold if name.startswith("check") else env
            if name.startswith("CI"):
                run_env = {**env, "CI": "true"}
            seconds = timed(command.format(tmp=tmp), clone, run_env)
            figures[name] = {"command": shown, "seconds": round(seconds, 1)}
    return {
        "format": "xbench-durations/1",
        "label": machine.label("cpu", available_cpus()),
        "cpu": machine.cpu_model(),
        "cores": available_cpus(),
        "commit": commit,
        "datetime": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "durations": figures,
    }


def render(folder: Path = FOLDER) -> str:
    """The docs' block: one table per machine, from every file in ``folder``."""
    parts = []
    for path in sorted(folder.glob("*.json")):
        doc = json.loads(path.read_text())
        rows = [f"| {name} | `{d['command']}` | {d['seconds']:.0f} s |"
                for name, d in doc["durations"].items()]  # fmt: skip
        parts.append(
            f"On `{doc['label']}` ({doc['cores']} cores), commit {doc['commit'][:7]}, "
            f"{doc['datetime'][:10]} ([`{path.name}`](../results/durations/{path.name})):\n\n"
            "| what | command | seconds |\n|---|---|---|\n" + "\n".join(rows)
        )
    return "\n\n".join(parts) + "\n" if parts else ""


def write_page(page: Path = PAGE, folder: Path = FOLDER) -> None:
    text = page.read_text()
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    page.write_text(f"{head}{START}\n{render(folder)}{END}{tail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ci", action="store_true", help="also time bash .ci/run (CI=true)")
    parser.add_argument("--render", action="store_true", help="only rewrite the docs' block")
    args = parser.parse_args()
    if not args.render:
        doc = measure(args.ci)
        FOLDER.mkdir(parents=True, exist_ok=True)
        target = FOLDER / f"{doc['label']}.json"
        target.write_text(json.dumps(doc, indent=1) + "\n")
        print(f"durations: wrote {target}")
    write_page()
    print(f"durations: rewrote the table in {PAGE}")


if __name__ == "__main__":
    main()
