"""The package's layers, read from every module's imports (``ast``; docstring examples do not count).

Data flows one way: ``cli`` → the orchestrators (``experiments``, ``training``, ``many``,
``file_inpainting`` ...) → ``pipeline`` → ``io`` / ``inpainting``. So:

* nothing below ``cli``, ``experiments`` and ``training`` imports them;
* ``experiments`` and ``training`` do not import ``cli``; ``training`` does not import ``experiments``;
* only ``medinpaint/io/`` imports the file-format libraries (nibabel, pydicom, highdicom);
* no module is over 400 lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "medinpaint"
FORMAT_LIBRARIES = ("nibabel", "pydicom", "highdicom")
TOP = ("medinpaint.cli", "medinpaint.__main__")
HIGH = ("medinpaint.experiments", "medinpaint.training")
def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module imported anywhere in the file (top level and inside functions)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _within(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == package or name.startswith(package + ".") for package in packages)


def _forbidden(module: str) -> tuple[str, ...]:
    if _within(module, TOP):
        return ()
    if _within(module, ("medinpaint.experiments",)):
        return TOP
    if _within(module, ("medinpaint.training",)):
        return (*TOP, "medinpaint.experiments")
    return (*TOP, *HIGH)


def test_the_package_has_the_layers_this_test_names():
    assert {"medinpaint.cli", "medinpaint.pipeline", "medinpaint.io.nifti", "medinpaint.experiments.demo"} <= set(MODULES)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_imports_a_layer_above_it(module: str):
    upward = sorted(name for name in _imports(MODULES[module]) if _within(name, _forbidden(module)))
    assert not upward, f"{module} imports {upward}, a layer above it"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_only_io_imports_the_file_format_libraries(module: str):
    if _within(module, ("medinpaint.io",)):
        return
    used = {name.split(".")[0] for name in _imports(MODULES[module])} & set(FORMAT_LIBRARIES)
    unexpected = sorted(used)
    assert not unexpected, f"{module} imports {unexpected}: move the reading / writing into medinpaint/io/"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_is_over_400_lines(module: str):
    lines = len(MODULES[module].read_text().splitlines())
    assert lines <= 400, f"{module} has {lines} lines: split it (one concept per module)"


def test_a_docstring_example_import_does_not_count(tmp_path: Path):
    source = tmp_path / "example.py"
    source.write_text('def f():\n    """\n    >>> from pydicom.data import get_testdata_file\n    """\n    import nibabel\n')
    assert _imports(source) == {"nibabel"}
