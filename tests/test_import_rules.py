"""The import rules of pyproject.toml's [tool.importlinter] (run by `make lint`): the real tree
keeps them, and each rule breaks, naming its contract, when a module imports the wrong way.

A wrong-way import is added to a copy of the package (its .py files only) in a temporary
directory, which `lint-imports` then analyses in place of the installed one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = [
    sys.executable,
    "-c",
    "import sys; from importlinter.cli import lint_imports_command; "
    "sys.exit(lint_imports_command())",
]
LAYERS = "Layers: composition > pbx > directory, identity, audit > platform > sip | media"
PROTOCOLS_ALONE = "zongji.sip and zongji.media import nothing else from zongji"
FACADES = "Other packages import zongji.sip and zongji.media only through their façades"


def lint_imports(src: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` with this project's contracts over the package found in `src`."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run(
        [*LINT_IMPORTS, "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=src,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def copy_of_package(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    shutil.copytree(
        ROOT / "src" / "zongji",
        src / "zongji",
        ignore=lambda folder, names: [
            n for n in names if not n.endswith(".py") and not (Path(folder) / n).is_dir()
        ],
    )
    return src


def test_the_tree_keeps_every_contract() -> None:
    result = lint_imports(ROOT / "src")
    assert result.returncode == 0, result.stdout + result.stderr
    for contract in (LAYERS, PROTOCOLS_ALONE, FACADES):
        assert f"{contract} KEPT" in result.stdout


@pytest.mark.parametrize(
    ("module", "source", "broken"),
    [
        # the SIP library reaching up into call control
        ("sip/wrong_way.py", "import zongji.pbx.dialling\n", [PROTOCOLS_ALONE, LAYERS]),
        # media reaching into SIP: the two protocol libraries are independent
        ("media/wrong_way.py", "import zongji.sip\n", [LAYERS]),
        # a context importing the composition root (the node's whole `Services`)
        ("pbx/wrong_way.py", "from zongji.services import Services\n", [LAYERS]),
        ("directory/wrong_way.py", "import zongji.api.deps\n", [LAYERS]),
        # the platform importing a context
        ("platform/wrong_way.py", "import zongji.directory.users\n", [LAYERS]),
        # call control reaching past the façade into SIP's transport
        ("pbx/wrong_way.py", "from zongji.sip.transport import tls\n", [FACADES]),
        ("demo/wrong_way.py", "import zongji.media.server\n", [FACADES]),
    ],
)
def test_a_wrong_way_import_breaks_its_contract(
    tmp_path: Path, module: str, source: str, broken: list[str]
) -> None:
    src = copy_of_package(tmp_path)
    assert lint_imports(src).returncode == 0, "the copy must keep the rules before the change"
    (src / "zongji" / module).write_text(f'"""An import the wrong way."""\n\n{source}')

    result = lint_imports(src)

    assert result.returncode != 0
    for contract in broken:
        assert f"{contract} BROKEN" in result.stdout, result.stdout
    wrong_module = "zongji." + module.removesuffix(".py").replace("/", ".")
    assert wrong_module in result.stdout
