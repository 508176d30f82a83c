"""Byte-code for CI, where PYTHONDONTWRITEBYTECODE is set: compile, once and on both cores, the
installed modules that the test suite imports, so that no test process compiles them again.

``python .ci/bytecode.py compile`` compiles the files named in ``.ci/bytecode-files.txt`` that
exist in this venv (a dependency release that moved a file only costs the tests that import it
a compile); ``python .ci/bytecode.py record`` rewrites that list from the byte-code present in
the venv after a CI run: the listed modules and whatever else the suite imported (a module
the suite no longer imports stays listed until the list is recorded in a venv where
``compile`` did not run). Byte-code is a cache: a stale list makes CI slower, never wrong.
"""

from __future__ import annotations

import py_compile
import sys
import sysconfig
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

LIST = Path(__file__).with_name("bytecode-files.txt")
SITE_PACKAGES = Path(sysconfig.get_paths()["purelib"])


def _compile(paths: list[str]) -> int:
    for path in paths:
        try:
            py_compile.compile(path, doraise=True)
        except (py_compile.PyCompileError, OSError):
            pass  # the import will compile it, or report the real error
    return len(paths)


def compile_listed(workers: int = 2) -> int:
    names = [line for line in LIST.read_text().splitlines() if line and not line.startswith("#")]
    paths = [str(SITE_PACKAGES / name) for name in names if (SITE_PACKAGES / name).is_file()]
    with ProcessPoolExecutor(workers) as pool:
        return sum(pool.map(_compile, [paths[k::workers] for k in range(workers)]))


def record() -> int:
    tag = sys.implementation.cache_tag
    names = sorted(
        str(source.relative_to(SITE_PACKAGES))
        for pyc in SITE_PACKAGES.rglob(f"__pycache__/*.{tag}.pyc")
        if (source := pyc.parent.parent / (pyc.name.split(f".{tag}")[0] + ".py")).is_file()
        and not source.name.startswith("__editable__")
    )
    header = "# written by `python .ci/bytecode.py record` after a CI run: see .ci/bytecode.py\n"
    LIST.write_text(header + "\n".join(names) + "\n")
    return len(names)


if __name__ == "__main__":
    if sys.argv[1:] == ["compile"]:
        print(f"byte-code: {compile_listed()} listed modules compiled")
    elif sys.argv[1:] == ["record"]:
        print(f"byte-code: {record()} modules listed in {LIST}")
    else:
        sys.exit("usage: python .ci/bytecode.py compile|record")
