"""The repository carries everything it runs on: a fresh clone alone passes its tests.

Tests, fuzz targets, benchmarks and scripts once read files from a folder beside the checkout
(the RFC 4475 messages, another harness's SIPp scenarios), so a clone of the repository alone
failed. Two guards keep that from coming back:

- every text file under src/, tests/, bench/ and scripts/ is read for references that leave the
  repository: a `../` path, a pathlib join with `".."`, `Path(__file__)` climbing above the
  repository's root, the root's own `.parent`, or an absolute path into the workplace;
- a copy of the repository in an empty temporary directory (nothing beside it) runs the RFC 4475
  conformance tests, which need their data files.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCANNED = ("src", "tests", "bench", "scripts")
TEXT_SUFFIXES = {".py", ".xml", ".cfg", ".md", ".toml", ".ini", ".mako", ".sh", ".json", ".txt", ""}
SKIPPED_DIRS = {"__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis"}
THIS_FILE = Path(__file__).resolve()  # its examples below are exactly what it looks for

# A "../" (or "..\") path anywhere: in code, comments, scenarios and docs alike.
_DOTDOT_PATH = re.compile(r"(?<![\w.])\.\.[/\\]")
# ".." as a path part: `ROOT / ".."`, `".." / "x"`, `os.path.join(here, "..")`.
_DOTDOT_PART = re.compile(r"""/\s*["']\.\.["']|["']\.\.["']\s*/|,\s*["']\.\.["']\s*[,)]""")
# The repository root's parent, under the names the code gives the root.
_ROOT_PARENT = re.compile(r"\b(?:REPO|ROOT|REPO_ROOT|PROJECT_ROOT)\.parent\b")
# An absolute path into the machine's work area (where checkouts and their neighbours live).
_WORKPLACE = re.compile(r"(?<![\w.])/work/")
# `Path(__file__)` followed by `.parent` steps or `.parents[k]`.
_FILE = r"Path\(__file__\)(?:\.resolve\(\)|\.absolute\(\))?"
_PARENT_STEPS = re.compile(_FILE + r"((?:\.parent\b)+)")
_PARENTS_INDEX = re.compile(_FILE + r"\.parents\[(\d+)\]")


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    text: str
    why: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.why}: {self.text.strip()}"


def outside_references(relative: str, text: str) -> list[Finding]:
    """What in `text` (the file at `relative`, from the repository root) refers to a path
    outside the repository."""
    # Path(__file__).parent is the file's directory; climbing len(parts) steps reaches the root.
    levels_to_root = len(Path(relative).parts)
    found = []
    for number, line in enumerate(text.splitlines(), start=1):

        def report(why: str, line: str = line, number: int = number) -> None:
            found.append(Finding(relative, number, line, why))

        if _DOTDOT_PATH.search(line):
            report("a ../ path")
        if _DOTDOT_PART.search(line):
            report('a ".." path part')
        if _ROOT_PARENT.search(line):
            report("the parent of the repository's root")
        if _WORKPLACE.search(line):
            report("an absolute path into the workplace")
        for match in _PARENT_STEPS.finditer(line):
            if match.group(1).count(".parent") > levels_to_root:
                report("Path(__file__) climbs above the repository's root")
        for match in _PARENTS_INDEX.finditer(line):
            if int(match.group(1)) + 1 > levels_to_root:
                report("Path(__file__).parents[...] is above the repository's root")
    return found


def project_files() -> list[Path]:
    files = []
    for top in SCANNED:
        for path in sorted((REPO / top).rglob("*")):
            parts = set(path.relative_to(REPO).parts)
            if parts & SKIPPED_DIRS or any(p.endswith(".egg-info") for p in parts):
                continue
            if path.is_file() and path.suffix in TEXT_SUFFIXES and path != THIS_FILE:
                files.append(path)
    return files


def test_no_file_refers_to_a_path_outside_the_repository() -> None:
    files = project_files()
    assert len(files) > 300  # the scan found the project (src, tests, bench, scripts)
    findings = [
        finding
        for path in files
        for finding in outside_references(
            path.relative_to(REPO).as_posix(), path.read_text(errors="replace")
        )
    ]
    assert not findings, "\n".join(map(str, findings))


# the folder beside the checkout that the project once read; spelt apart so that this file,
# which must name it to test the guard, is not itself taken for a reference to it by a scanner
SIBLING = "sha" + "red"


@pytest.mark.parametrize(
    ("relative", "line"),
    [
        ("tests/sip/sip_fakes.py", f'D = Path(__file__).resolve().parents[2] / ".." / "{SIBLING}"'),
        ("tests/conftest.py", f'CONFORMANCE = REPO.parent / "{SIBLING}" / "conformance"'),
        ("bench/pbx/register.xml", f"<!-- SIPp then answers (../{SIBLING}/bench/sip/uas.xml) -->"),
        ("bench/bench_x.py", f'HARNESS = ROOT / ".." / "{SIBLING}" / "bench" / "sip" / "bench.py"'),
        ("bench/bench_x.py", "sys.path.insert(0, str(Path(__file__).parent.parent.parent))"),
        ("tests/x.py", 'DATA = Path(__file__).resolve().parents[2] / "data"'),
        ("scripts/run", f'DATA = os.path.join(HERE, "..", "{SIBLING}")'),
        ("tests/x.py", f'SEED = Path("/work/{SIBLING}/seed")'),
    ],
)
def test_the_guard_sees_references_that_leave_the_repository(relative: str, line: str) -> None:
    assert outside_references(relative, line), line


@pytest.mark.parametrize(
    ("relative", "line"),
    [
        ("tests/sip/sip_fakes.py", 'D = Path(__file__).resolve().parents[1] / "data" / "rfc4475"'),
        ("tests/conftest.py", "REPO = Path(__file__).resolve().parent.parent"),
        ("bench/bench_x.py", "ROOT = Path(__file__).resolve().parents[1]"),
        ("src/zongji/platform/files.py", 'if ".." in key.split("/"):'),
        ("src/zongji/sip/fields.py", '"""Allow, Supported, Require ..."""'),
        ("bench/sip_load.py", 'with open("/proc/net/snmp") as snmp:'),
    ],
)
def test_the_guard_leaves_paths_inside_the_repository_alone(relative: str, line: str) -> None:
    assert not outside_references(relative, line), line


def test_a_copy_of_the_repository_with_nothing_beside_it_runs_the_conformance_tests(
    tmp_path: Path,
) -> None:
    """The RFC 4475 tests need their 49 data files; in a copy of the repository in an empty
    directory they can only come from the repository itself."""
    copy = tmp_path / "checkout"
    ignore = shutil.ignore_patterns(*SKIPPED_DIRS, "*.egg-info", "*.pyc")
    for top in ("src", "tests"):
        shutil.copytree(REPO / top, copy / top, ignore=ignore)
    shutil.copy(REPO / "pyproject.toml", copy / "pyproject.toml")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkout"]  # nothing beside it

    env = {**os.environ, "PYTHONPATH": str(copy / "src")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "tests/sip/test_sip_rfc4475.py"],
        cwd=copy, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    passed = re.search(r"(\d+) passed", result.stdout)
    assert passed, result.stdout[-500:]
    assert int(passed.group(1)) >= 50, result.stdout[-500:]  # one per message, and more
