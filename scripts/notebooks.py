#!/usr/bin/env python3
"""Runs and checks cnnlab's GoNB notebooks headlessly.

Usage (through scripts/run-notebooks.sh, which sets up the environment):

    notebooks.py run [--write] [--timeout S] [NOTEBOOK ...]   execute top to bottom, report N passed, N failed
    notebooks.py check [NOTEBOOK ...]                          check committed notebooks (executed, clean)

`run` executes each notebook with the GoNB kernel in a fresh kernel, with a per-cell timeout. A notebook
fails on an error output, a dead kernel, a timeout, or a failed shell line (GoNB prints "exit status N"
on stderr for a `!` line that fails but does not fail the cell). The kernel runs with CNNLAB_HEADLESS=1,
so interactive (widget) cells show their default values instead of waiting for a browser. With --write
the executed notebook, with clean metadata and stable cell ids, replaces the file (written to a temporary name, then renamed).

`check` fails when a committed notebook has error outputs, was not executed top to bottom
(execution counts 1, 2, 3, … in order, every code cell executed), has unstable cell ids, extra
metadata, or machine paths (/root, /home, /tmp) in its outputs.
"""

import argparse
import os
import pathlib
import re
import sys
import tempfile
import time

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

KERNEL = {"display_name": "Go (gonb)", "language": "go", "name": "gonb"}
LANGUAGE_INFO = {"name": "go"}
FAILED_SHELL = re.compile(r"(^|\n)exit status [1-9][0-9]*\s*($|\n)")
MACHINE_PATH = re.compile(r"(?<![\w.])/(root|home|tmp)/")


def default_notebooks(root):
    return sorted(str(p) for p in (root / "notebooks").glob("*.ipynb"))


def cell_problems(cell):
    """Returns the problems found in one executed code cell's outputs."""
    problems = []
    for out in cell.get("outputs", []):
        kind = out.get("output_type")
        if kind == "error":
            problems.append(f"error output: {out.get('ename')}: {out.get('evalue')}")
        elif kind == "stream" and out.get("name") == "stderr" and FAILED_SHELL.search(out.get("text", "")):
            problems.append("failed shell line: " + out.get("text", "").strip()[-200:])
    return problems


def clean(nb):
    """Gives the notebook clean metadata and stable cell ids."""
    nb.metadata = nbformat.NotebookNode({"kernelspec": KERNEL, "language_info": LANGUAGE_INFO})
    for index, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{index:03d}"
        tags = cell.get("metadata", {}).get("tags")
        cell["metadata"] = nbformat.NotebookNode({"tags": tags} if tags else {})
    nbformat.validate(nb)


def write_atomic(nb, path):
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".ipynb", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            nbformat.write(nb, f)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def run_one(path, timeout, write):
    """Executes one notebook; returns a list of problems (empty when it passed)."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name="gonb",
        timeout=timeout,
        allow_errors=True,
        startup_timeout=120,
        resources={"metadata": {"path": str(pathlib.Path(path).parent)}},
    )
    problems = []
    try:
        client.execute()
    except CellTimeoutError as e:
        problems.append(f"cell timed out after {timeout}s: {str(e)[:200]}")
    except DeadKernelError as e:
        problems.append(f"kernel died: {e}")
    except CellExecutionError as e:
        problems.append(f"cell failed: {str(e)[:300]}")
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        found = cell_problems(cell)
        for p in found:
            problems.append(f"cell {index}: {p}")
        if found:
            stderr = "".join(o.get("text", "") for o in cell.get("outputs", [])
                             if o.get("output_type") == "stream" and o.get("name") == "stderr")
            tail = stderr.strip().splitlines()[-15:]
            problems.extend(f"  | {line}" for line in tail)
    if write and not problems:
        clean(nb)
        write_atomic(nb, path)
    return problems


def check_one(path):
    """Checks a committed notebook; returns a list of problems."""
    problems = []
    nb = nbformat.read(path, as_version=4)
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as e:
        problems.append(f"invalid notebook: {e.message}")
    if nb.metadata.get("kernelspec", {}).get("name") != "gonb":
        problems.append("kernelspec is not gonb")
    extra = set(nb.metadata) - {"kernelspec", "language_info"}
    if extra:
        problems.append(f"extra notebook metadata {sorted(extra)}")
    expected = 1
    for index, cell in enumerate(nb.cells):
        if cell.get("id") != f"cell-{index:03d}":
            problems.append(f"cell {index}: unstable id {cell.get('id')!r}")
        if cell.cell_type != "code":
            continue
        if not cell.source.strip():
            continue
        count = cell.get("execution_count")
        if count != expected:
            problems.append(f"cell {index}: execution_count {count}, want {expected} (not run top to bottom)")
        expected = (count or expected) + 1
        for p in cell_problems(cell):
            problems.append(f"cell {index}: {p}")
        for out in cell.get("outputs", []):
            text = out.get("text", "") + "".join(str(v) for v in out.get("data", {}).values() if isinstance(v, str))
            if MACHINE_PATH.search(text):
                problems.append(f"cell {index}: machine path in output: {MACHINE_PATH.search(text).group(0)}")
                break
    return problems


def main():
    root = pathlib.Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["run", "check"])
    parser.add_argument("notebooks", nargs="*")
    parser.add_argument("--write", action="store_true", help="save executed outputs into the notebooks")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell (default 900)")
    args = parser.parse_intermixed_args()
    notebooks = args.notebooks or default_notebooks(root)
    if args.mode == "run":
        os.environ["CNNLAB_HEADLESS"] = "1"  # inherited by the kernels: widget cells use their defaults
    if not notebooks:
        print("no notebooks found", file=sys.stderr)
        return 1
    passed = failed = 0
    for path in notebooks:
        start = time.time()
        try:
            problems = run_one(path, args.timeout, args.write) if args.mode == "run" else check_one(path)
        except Exception as e:  # an unreadable notebook is a failure of that notebook, not of the runner
            problems = [f"{type(e).__name__}: {e}"]
        took = time.time() - start
        if problems:
            failed += 1
            print(f"FAIL {path} ({took:.0f}s)")
            for p in problems:
                print(f"     {p}")
        else:
            passed += 1
            print(f"PASS {path} ({took:.0f}s)")
        sys.stdout.flush()
    print(f"notebooks: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
