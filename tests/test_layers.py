"""Layering, enforced with import-linter as kopf does: the contracts in setup.cfg
([importlinter]) hold, and the checker itself sees a broken one. Fast: no tools.

storekit's folders install under one import name (``cli/`` is ``storekit.cli``, ...), a
mapping import-linter cannot follow; the test lays the package out as installed, in a
temporary folder, and checks that.
"""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAPPED = {"storekit": "storekit", "storekit/cli": "cli", "storekit/webapp": "webapp", "storekit/stacks": "stacks"}


def installed_layout(tmp: Path) -> Path:
    for target, source in MAPPED.items():
        shutil.copytree(ROOT / source, tmp / target, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", "templates", "static"))
    return tmp


def lint(tmp: Path, config: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(tmp)}
    return subprocess.run([sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; "
                           "sys.exit(lint_imports_command())", "--config", str(config), "--no-cache"],
                          cwd=tmp, env=env, capture_output=True, text=True, timeout=120)


def test_the_layering_contracts_hold(tmp_path):
    layout = installed_layout(tmp_path / "pkg")
    result = lint(layout, ROOT / "setup.cfg")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 3 kept, 0 broken." in result.stdout, result.stdout


def test_a_broken_contract_is_caught(tmp_path):
    layout = installed_layout(tmp_path / "pkg")
    (layout / "storekit" / "stacks" / "sneaky.py").write_text("from storekit import kit  # noqa\n")
    result = lint(layout, ROOT / "setup.cfg")
    assert result.returncode != 0 and "storekit.stacks.sneaky -> storekit.kit" in result.stdout, result.stdout


def test_every_library_module_is_in_the_no_edge_contract():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    listed = set(config["importlinter:contract:library-imports-no-edge"]["source_modules"].split())
    modules = {f"storekit.{p.stem}" for p in (ROOT / "storekit").glob("*.py") if p.stem != "__init__"}
    modules |= {f"storekit.{p.name}" for p in (ROOT / "storekit").iterdir() if (p / "__init__.py").exists()}
    assert modules <= listed | {"storekit"}, sorted(modules - listed)


def test_every_package_folder_is_installed():
    """A regular install (the platform image) gets only the packages setup.cfg lists."""
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    listed = set(config["options"]["packages"].split())
    found = set()
    for target, source in MAPPED.items():
        for init in (ROOT / source).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / source).parts
            found.add(".".join([*target.split("/"), *relative]))
    assert found == listed, (sorted(found - listed), sorted(listed - found))


def test_no_python_file_is_over_400_lines():
    """Small modules by domain: a file that grows past 400 lines is split, not stretched."""
    long = {str(p.relative_to(ROOT)): n for source in MAPPED.values() for p in (ROOT / source).rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 400}
    assert not long, long
