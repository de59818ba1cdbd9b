"""The package shape agrees with itself: folders, pyproject.toml's setuptools mapping, the .mypy-src
symlink tree mypy and lint-imports read, the import contracts' module lists, and module docstrings.

Owns only these consistency checks. Each check is a function of a repository root that returns the
problems it found (empty when the tree is consistent), so the same code runs against the real tree
and, in the tests below, against deliberately broken copies that prove every check can fail. Does
not own the import rules themselves: lint-imports checks those (tests/run.sh).
"""

from __future__ import annotations

import ast
import os
import shutil
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
NAMESPACE = "stackbilt_gateway"
# The folders that map into the namespace package.
PORTIONS = ("daemon", "tray", "webui", "installer")
# Never package folders: installed npm tooling, bytecode, the dashboard's static files.
_PRUNE = {"node_modules", "__pycache__", "static"}

# The import contracts whose forbidden list must name every child of the daemon but a few.
DAEMON = f"{NAMESPACE}.daemon"
# Source modules that identify the contract -> the daemon children it leaves allowed.
_COVERING_CONTRACTS = {
    f"{NAMESPACE}.tray": {"control"},
    f"{DAEMON}.wires.anthropic": {"core", "wires"},
}

Problems = list[str]


def _setuptools(root: Path) -> dict[str, Any]:
    with (root / "pyproject.toml").open("rb") as f:
        table: dict[str, Any] = tomllib.load(f)["tool"]["setuptools"]
    return table


def _package_dir(root: Path) -> dict[str, str]:
    mapping: dict[str, str] = _setuptools(root).get("package-dir", {})
    return mapping


def _package_folders(folder: Path) -> list[Path]:
    """Every folder at or under `folder` that holds an __init__.py (pruning non-package trees)."""
    found = []
    for here, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in _PRUNE and not d.startswith("."))
        if "__init__.py" in files:
            found.append(Path(here))
    return found


def _dotted(root: Path, folder: Path, package_dir: dict[str, str]) -> str | None:
    """The package name setuptools gives `folder`, through the deepest package-dir entry above it."""
    best: tuple[int, str] | None = None
    for name, target in package_dir.items():
        base = (root / target).resolve()
        if folder.resolve().is_relative_to(base):
            depth = len(base.parts)
            if best is None or depth > best[0]:
                rest = folder.resolve().relative_to(base).parts
                best = (depth, ".".join((name, *rest)))
    return None if best is None else best[1]


def package_dir_problems(root: Path) -> Problems:
    """Each portion folder is mapped, and each package-dir entry names an existing package folder."""
    package_dir = _package_dir(root)
    problems = []
    for portion in PORTIONS:
        if package_dir.get(f"{NAMESPACE}.{portion}") != portion:
            problems.append(f"package-dir: {NAMESPACE}.{portion} must map to {portion!r}")
    for name, target in sorted(package_dir.items()):
        folder = root / target
        if not folder.is_dir():
            problems.append(f"package-dir: {name} -> {target!r} is not a folder")
        elif not (folder / "__init__.py").is_file():
            problems.append(f"package-dir: {name} -> {target!r} holds no __init__.py")
    return problems


def packages_problems(root: Path) -> Problems:
    """`packages` lists exactly the folders under the portions that hold an __init__.py."""
    package_dir = _package_dir(root)
    listed: list[str] = _setuptools(root).get("packages", [])
    problems = [f"packages: {name} is listed twice" for name in sorted(set(listed)) if listed.count(name) > 1]
    on_disk: dict[str, Path] = {}
    for portion in PORTIONS:
        if not (root / portion).is_dir():
            problems.append(f"folder {portion}/ is missing")
            continue
        for folder in _package_folders(root / portion):
            rel = folder.relative_to(root).as_posix()
            name = _dotted(root, folder, package_dir)
            if name is None:
                problems.append(f"{rel}/ holds an __init__.py but no package-dir entry covers it")
            else:
                on_disk[name] = folder
    for name in sorted(on_disk.keys() - set(listed)):
        rel = on_disk[name].relative_to(root).as_posix()
        problems.append(f"packages: {name} ({rel}/) is missing from the list")
    for name in sorted(set(listed) - on_disk.keys()):
        problems.append(f"packages: {name} is listed but no folder holding an __init__.py backs it")
    return problems


def symlink_problems(root: Path) -> Problems:
    """.mypy-src/stackbilt_gateway/<x> is a symlink to the folder package-dir maps <x> to, one per
    top-level package-dir entry, and nothing else lives there (an __init__.py would end the
    namespace package)."""
    package_dir = _package_dir(root)
    tree = root / ".mypy-src" / NAMESPACE
    if not tree.is_dir():
        return [f"{tree.relative_to(root)}/ is missing"]
    problems = []
    for entry in sorted(tree.iterdir()):
        name = f"{NAMESPACE}.{entry.name}"
        rel = entry.relative_to(root).as_posix()
        if not entry.is_symlink():
            problems.append(f"{rel} is not a symlink")
        elif name not in package_dir:
            problems.append(f"{rel} has no package-dir entry {name}")
        elif entry.resolve() != (root / package_dir[name]).resolve():
            problems.append(
                f"{rel} -> {os.readlink(entry)} but package-dir maps {name} to {package_dir[name]!r}"
            )
    for name in sorted(package_dir):
        head, _, tail = name.rpartition(".")
        if head == NAMESPACE and not (tree / tail).is_symlink():
            problems.append(f"{name}: no symlink .mypy-src/{NAMESPACE}/{tail}")
    return problems


def docstring_problems(root: Path) -> Problems:
    """Every module under daemon/ opens with a docstring."""
    problems = []
    for here, dirs, files in os.walk(root / "daemon"):
        dirs[:] = sorted(d for d in dirs if d not in _PRUNE and not d.startswith("."))
        for file in sorted(f for f in files if f.endswith(".py")):
            path = Path(here) / file
            rel = path.relative_to(root).as_posix()
            try:
                tree = ast.parse(path.read_text(encoding="utf-8"), filename=rel)
            except SyntaxError as exc:
                problems.append(f"{rel}: does not parse ({exc.msg}, line {exc.lineno})")
                continue
            if not (ast.get_docstring(tree) or "").strip():
                problems.append(f"{rel}: no module docstring")
    return problems


def _daemon_children(root: Path) -> set[str]:
    """The daemon's direct subpackages and modules, as import-linter names them."""
    daemon = root / "daemon"
    packages = {p.name for p in daemon.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    modules = {p.stem for p in daemon.glob("*.py") if p.name != "__init__.py"}
    return {f"{DAEMON}.{name}" for name in packages | modules}


def contract_problems(root: Path) -> Problems:
    """The forbidden contracts that guard the daemon's boundary name every daemon child but the
    allowed ones (import-linter cannot say "all but control", so the list is spelled out and a new
    subpackage must join it), and name nothing that does not exist."""
    with (root / "pyproject.toml").open("rb") as f:
        contracts: list[dict[str, Any]] = (
            tomllib.load(f).get("tool", {}).get("importlinter", {}).get("contracts", [])
        )
    children = _daemon_children(root)
    problems = []
    for source, allowed in _COVERING_CONTRACTS.items():
        found = [
            c for c in contracts if c.get("type") == "forbidden" and source in c.get("source_modules", [])
        ]
        if len(found) != 1:
            problems.append(f"importlinter: expected one forbidden contract for {source}, found {len(found)}")
            continue
        listed = set(found[0].get("forbidden_modules", []))
        expected = children - {f"{DAEMON}.{name}" for name in allowed}
        name = found[0].get("name", source)
        problems += [f"importlinter: {name!r} does not forbid {m}" for m in sorted(expected - listed)]
        for m in sorted(listed - expected):
            why = "which it must allow" if m in children else "which does not exist"
            problems.append(f"importlinter: {name!r} forbids {m}, {why}")
    return problems


CHECKS: list[Callable[[Path], Problems]] = [
    package_dir_problems,
    packages_problems,
    symlink_problems,
    docstring_problems,
    contract_problems,
]


def _report(problems: Problems) -> str:
    return "\n".join(["", *problems])


# --- the real tree ------------------------------------------------------------------------------


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_repository_is_consistent(check: Callable[[Path], Problems]) -> None:
    problems = check(ROOT)
    assert not problems, _report(problems)


# --- every check can fail: a small well-formed tree, then one breakage at a time ------------------

_PYPROJECT = """\
[tool.setuptools]
package-dir = {{ {package_dir} }}
packages = [{packages}]

[[tool.importlinter.contracts]]
name = "clients"
type = "forbidden"
source_modules = ["stackbilt_gateway.tray", "stackbilt_gateway.daemon.cli"]
forbidden_modules = [{client_forbidden}]

[[tool.importlinter.contracts]]
name = "wires"
type = "forbidden"
source_modules = ["stackbilt_gateway.daemon.wires.anthropic"]
forbidden_modules = [{wire_forbidden}]
"""
_PACKAGES = [
    "stackbilt_gateway.daemon",
    "stackbilt_gateway.daemon.cli",
    "stackbilt_gateway.daemon.control",
    "stackbilt_gateway.daemon.core",
    "stackbilt_gateway.daemon.wires",
    "stackbilt_gateway.daemon.wires.anthropic",
    "stackbilt_gateway.tray",
    "stackbilt_gateway.webui",
    "stackbilt_gateway.installer",
]
_CHILDREN = ["cli", "control", "core", "server", "wires"]


def _quoted(names: list[str]) -> str:
    return ", ".join(f'"{n}"' for n in names)


def _write_pyproject(
    root: Path,
    packages: list[str] = _PACKAGES,
    package_dir: dict[str, str] | None = None,
    client_allowed: tuple[str, ...] = ("control",),
) -> None:
    mapping = package_dir if package_dir is not None else {f"{NAMESPACE}.{p}": p for p in PORTIONS}
    text = _PYPROJECT.format(
        package_dir=", ".join(f'"{k}" = "{v}"' for k, v in mapping.items()),
        packages=_quoted(packages),
        client_forbidden=_quoted([f"{DAEMON}.{c}" for c in _CHILDREN if c not in client_allowed]),
        wire_forbidden=_quoted([f"{DAEMON}.{c}" for c in _CHILDREN if c not in ("core", "wires")]),
    )
    (root / "pyproject.toml").write_text(text, encoding="utf-8")


def _module(path: Path, text: str = '"""A module."""\n') -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    for name in _PACKAGES:
        folder = Path(*name.split(".")[1:])
        _module(root / folder / "__init__.py")
    _module(root / "daemon" / "server.py")
    (root / "webui" / "static").mkdir()
    _module(root / "webui" / "node_modules" / "pkg" / "__init__.py", "")  # npm tooling, never a package
    links = root / ".mypy-src" / NAMESPACE
    links.mkdir(parents=True)
    for portion in PORTIONS:
        (links / portion).symlink_to(Path("..", "..", portion))
    _write_pyproject(root)
    return root


def _all_problems(root: Path) -> Problems:
    return [p for check in CHECKS for p in check(root)]


def test_well_formed_tree_passes(tree: Path) -> None:
    assert _all_problems(tree) == []


def test_unlisted_package_folder(tree: Path) -> None:
    _module(tree / "daemon" / "storage" / "__init__.py")
    assert packages_problems(tree) == [
        "packages: stackbilt_gateway.daemon.storage (daemon/storage/) is missing from the list"
    ]


def test_listed_package_without_folder(tree: Path) -> None:
    _write_pyproject(tree, packages=[*_PACKAGES, "stackbilt_gateway.daemon.gone"])
    assert packages_problems(tree) == [
        "packages: stackbilt_gateway.daemon.gone is listed but no folder holding an __init__.py backs it"
    ]


def test_folder_without_init_is_not_a_package(tree: Path) -> None:
    (tree / "daemon" / "core" / "__init__.py").unlink()
    problems = packages_problems(tree)
    assert problems == [
        "packages: stackbilt_gateway.daemon.core is listed but no folder holding an __init__.py backs it"
    ]


def test_duplicate_package(tree: Path) -> None:
    _write_pyproject(tree, packages=[*_PACKAGES, "stackbilt_gateway.tray"])
    assert packages_problems(tree) == ["packages: stackbilt_gateway.tray is listed twice"]


def test_package_dir_to_missing_folder(tree: Path) -> None:
    mapping = {f"{NAMESPACE}.{p}": p for p in PORTIONS}
    mapping[f"{NAMESPACE}.tray"] = "tray_app"
    _write_pyproject(tree, package_dir=mapping)
    problems = package_dir_problems(tree)
    assert "package-dir: stackbilt_gateway.tray must map to 'tray'" in problems
    assert "package-dir: stackbilt_gateway.tray -> 'tray_app' is not a folder" in problems
    assert "tray/ holds an __init__.py but no package-dir entry covers it" in packages_problems(tree)


def test_symlink_to_wrong_folder(tree: Path) -> None:
    link = tree / ".mypy-src" / NAMESPACE / "webui"
    link.unlink()
    link.symlink_to(Path("..", "..", "tray"))
    assert symlink_problems(tree) == [
        ".mypy-src/stackbilt_gateway/webui -> ../../tray"
        " but package-dir maps stackbilt_gateway.webui to 'webui'"
    ]


def test_missing_and_stray_symlinks(tree: Path) -> None:
    links = tree / ".mypy-src" / NAMESPACE
    (links / "installer").unlink()
    (links / "extra").symlink_to(Path("..", "..", "daemon"))
    (links / "__init__.py").write_text("", encoding="utf-8")
    assert symlink_problems(tree) == [
        ".mypy-src/stackbilt_gateway/__init__.py is not a symlink",
        ".mypy-src/stackbilt_gateway/extra has no package-dir entry stackbilt_gateway.extra",
        "stackbilt_gateway.installer: no symlink .mypy-src/stackbilt_gateway/installer",
    ]


def test_module_without_docstring(tree: Path) -> None:
    _module(tree / "daemon" / "core" / "bare.py", "from __future__ import annotations\n\nX = 1\n")
    _module(tree / "daemon" / "wires" / "commented.py", "# a comment is not a docstring\n")
    _module(tree / "daemon" / "broken.py", "def (:\n")
    _module(tree / "tray" / "bare.py", "X = 1\n")  # only daemon/ is held to it
    problems = docstring_problems(tree)
    assert problems == [
        "daemon/broken.py: does not parse (invalid syntax, line 1)",
        "daemon/core/bare.py: no module docstring",
        "daemon/wires/commented.py: no module docstring",
    ]


def test_contract_misses_a_new_daemon_child(tree: Path) -> None:
    _module(tree / "daemon" / "gcpolicy.py")
    assert contract_problems(tree) == [
        "importlinter: 'clients' does not forbid stackbilt_gateway.daemon.gcpolicy",
        "importlinter: 'wires' does not forbid stackbilt_gateway.daemon.gcpolicy",
    ]


def test_contract_forbids_allowed_or_missing_module(tree: Path) -> None:
    _write_pyproject(tree, client_allowed=())
    (tree / "daemon" / "server.py").unlink()
    assert contract_problems(tree) == [
        "importlinter: 'clients' forbids stackbilt_gateway.daemon.control, which it must allow",
        "importlinter: 'clients' forbids stackbilt_gateway.daemon.server, which does not exist",
        "importlinter: 'wires' forbids stackbilt_gateway.daemon.server, which does not exist",
    ]


def test_broken_copy_of_the_real_tree(tmp_path: Path) -> None:
    """The checks read the real pyproject.toml and folders, not only the small tree above."""
    root = tmp_path / "repo"
    root.mkdir()
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    dropped = '  "stackbilt_gateway.daemon.routing",\n'
    assert dropped in text
    (root / "pyproject.toml").write_text(text.replace(dropped, ""), encoding="utf-8")
    for portion in PORTIONS:
        shutil.copytree(ROOT / portion, root / portion, ignore=shutil.ignore_patterns(*_PRUNE))
    shutil.copytree(ROOT / ".mypy-src", root / ".mypy-src", symlinks=True)
    assert "packages: stackbilt_gateway.daemon.routing (daemon/routing/) is missing from the list" in (
        packages_problems(root)
    )
