"""A fresh install the way the README's first command does it, with Debian's externally-managed
system Python (PEP 668): installer/install.sh from a copy of this checkout into a throwaway HOME
(``--no-desktop``), the installed ``stackbilt-gw`` serving real requests, a second install over
the first (idempotent, ``--start``), and uninstall.sh. Also the installer's one-line explanation
when the Python cannot make a venv (no python3-venv) or is older than 3.11.

pip cannot reach the package index inside the test namespace, so the installer installs with
``--wheelhouse .cache/wheels``: tests/run.sh builds that wheelhouse (the package's build and
runtime requirements) before it enters the namespace. The dry run and the autostart registration
are test_autostart.py's.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.desktop.conftest import free_tcp_port

ROOT = Path(__file__).resolve().parents[2]
WHEELS = ROOT / ".cache" / "wheels"
SYSTEM_PYTHON = Path("/usr/bin/python3")
# What a fresh checkout holds: no venvs, caches, node modules or build output.
NOT_IN_A_CHECKOUT = shutil.ignore_patterns(
    ".git", ".venv", ".cache", "node_modules", ".mypy-src", ".mypy_cache", ".ruff_cache", ".pytest_cache",
    ".hypothesis", "__pycache__", "*.egg-info", "build", "dist",
)  # fmt: skip
# Environment a test process has that a user's shell would not (or that would point elsewhere).
# PYTHON_KEYRING_BACKEND stays: the desktop conftest's `fail` backend keeps the installed gateway
# off the session's Secret Service (provider keys are not this test's subject; it would prompt).
NOT_INHERITED = ("PYTHONPATH", "PYTHONHOME", "PYTHON", "VIRTUAL_ENV")
HOWTO_WHEELS = (
    "run the suite with `bash tests/run.sh`, which builds .cache/wheels before entering the namespace"
)


def _user_env(home: Path) -> dict[str, str]:
    """A login-like environment in a throwaway HOME: system PATH (so ``python3`` is Debian's),
    the install's bin dir on it, XDG dirs inside HOME, no gateway or Python overrides."""
    env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED and not k.startswith("STACKBILT_")}
    env.update(
        HOME=str(home),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_STATE_HOME=str(home / ".local" / "state"),
        XDG_CACHE_HOME=str(home / ".cache"),
        PATH=f"{home / '.local' / 'bin'}:/usr/bin:/bin",
    )
    for name in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        Path(env[name]).mkdir(parents=True, exist_ok=True)
    return env


def _run(argv: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def _ok(out: subprocess.CompletedProcess[str]) -> str:
    assert out.returncode == 0, f"{out.args!r} exited {out.returncode}\n{out.stdout}\n{out.stderr}"
    return out.stdout


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, object]]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def _py(python: Path, code: str, env: dict[str, str] | None = None) -> str:
    """What ``python -c code`` prints (it must succeed)."""
    return _ok(_run([str(python), "-c", code], env if env is not None else dict(os.environ))).strip()


def _system_python_tag() -> str:
    """The system Python's cache tag, after checking it is the externally-managed one (PEP 668)."""
    stdlib = Path(_py(SYSTEM_PYTHON, "import sysconfig; print(sysconfig.get_path('stdlib'))"))
    assert (stdlib / "EXTERNALLY-MANAGED").is_file(), f"{SYSTEM_PYTHON} is not externally managed"
    return _py(SYSTEM_PYTHON, "import sys; print(sys.implementation.cache_tag)")


def _check_wheelhouse(tag: str) -> None:
    stamp = WHEELS / "stamp"
    if not stamp.is_file():
        pytest.fail(f"no wheelhouse at {WHEELS}: {HOWTO_WHEELS}")
    built_for = stamp.read_text().splitlines()[0]
    if built_for != tag:
        pytest.fail(f"{WHEELS} holds wheels for {built_for}, {SYSTEM_PYTHON} is {tag}: build .venv with it")


def _readme_install_command() -> list[str]:
    """The first command of the README's "Set up" section."""
    setup = (ROOT / "README.md").read_text(encoding="utf-8").split("## Set up", 1)[1]
    block = re.search(r"```sh\n(.*?)\n```", setup, re.DOTALL)
    assert block is not None, "no sh block in the README's Set up section"
    return shlex.split(block.group(1))


def _serves(base: str, venv: Path, key: str) -> None:
    """The installed daemon answers /health and an authenticated /v1/models (and refuses no key)."""
    status, health = _get(f"{base}/health")
    assert status == 200 and health["status"] == "ok" and health["service"] == "stackbilt-llm-gateway"
    cmdline = Path(f"/proc/{health['pid']}/cmdline").read_bytes().split(b"\0")
    assert cmdline[0].decode().startswith(str(venv)), cmdline  # the installed gateway, not the test's
    status, models = _get(f"{base}/v1/models", {"x-api-key": key, "anthropic-version": "2023-06-01"})
    assert status == 200 and models["object"] == "list" and models["data"], models
    status, _ = _get(f"{base}/v1/models")
    assert status == 401


@pytest.mark.e2e
@pytest.mark.timeout(600)
def test_fresh_install_with_debian_system_python(tmp_path: Path) -> None:
    tag = _system_python_tag()
    _check_wheelhouse(tag)
    src = tmp_path / "stackbilt-llm-gateway"  # a copy: pip builds in the source tree
    shutil.copytree(ROOT, src, ignore=NOT_IN_A_CHECKOUT, symlinks=True)
    home = tmp_path / "home"
    env = _user_env(home)
    assert shutil.which("python3", path=env["PATH"]) == str(SYSTEM_PYTHON)
    venv = home / ".local" / "share" / "stackbilt-llm-gateway" / "venv"
    bindir = home / ".local" / "bin"
    install = ["bash", str(src / "installer" / "install.sh"), "--no-desktop", "--wheelhouse", str(WHEELS)]
    try:
        out = _ok(_run(install, env, timeout=300))
        assert f"installed: {venv}" in out and "note: add" not in out
        assert (bindir / "stackbilt-gw").resolve() == (venv / "bin" / "stackbilt-gw").resolve()
        assert "include-system-site-packages = false" in (venv / "pyvenv.cfg").read_text()
        assert _py(venv / "bin" / "python", "import sys; print(sys.base_prefix)", env) == "/usr"
        gui = "import importlib.util as u; print(u.find_spec('pystray'), u.find_spec('webview'))"
        assert _py(venv / "bin" / "python", gui, env) == "None None", "--no-desktop installs no GUI extras"
        assert not (home / ".config" / "autostart").exists(), "--no-desktop registers no tray start-up"

        port = free_tcp_port()
        _ok(_run(["stackbilt-gw", "start", "--port", str(port)], env))
        key = _ok(_run(["stackbilt-gw", "key"], env)).strip()
        assert key.startswith("sgw-")
        _serves(f"http://127.0.0.1:{port}", venv, key)
        _ok(_run(["stackbilt-gw", "stop"], env))
        with pytest.raises(urllib.error.URLError):
            _get(f"http://127.0.0.1:{port}/health")

        # Again over the first install: the README's own command (it starts the daemon too).
        readme = _readme_install_command()
        assert readme == ["bash", "installer/install.sh", "--no-desktop", "--start"], readme
        again = ["bash", str(src / readme[1]), *readme[2:], "--wheelhouse", str(WHEELS)]
        port = free_tcp_port()
        out = _ok(_run(again, {**env, "STACKBILT_GATEWAY_PORT": str(port)}, timeout=300))
        assert f"gateway running at http://127.0.0.1:{port}" in out
        assert _ok(_run(["stackbilt-gw", "key"], env)).strip() == key, "re-install keeps the gateway key"
        _serves(f"http://127.0.0.1:{port}", venv, key)
    finally:
        if (venv / "bin" / "stackbilt-gw").exists():
            _run([str(venv / "bin" / "stackbilt-gw"), "stop"], env)

    _ok(_run(["bash", str(src / "installer" / "uninstall.sh")], env))
    assert not venv.exists() and not (bindir / "stackbilt-gw").exists()
    assert (home / ".config" / "stackbilt-llm-gateway" / "gateway.key").is_file(), "config is kept"


NO_ENSUREPIP = """\
# Hides the stdlib's ensurepip, as Debian/Ubuntu do until python3-venv is installed.
raise ModuleNotFoundError("No module named 'ensurepip'", name="ensurepip")
"""
VENV_FAILS = f"""\
#!/bin/sh
# Debian's python3 whose `-m venv` fails (ensurepip present but broken, say): everything else is real.
case "$*" in
  *"-m venv"*) echo "Error: Command '[...]' returned non-zero exit status 1." >&2; exit 1 ;;
esac
exec {SYSTEM_PYTHON} "$@"
"""
PYTHON_39 = """\
#!/bin/sh
# Stands in for a Python 3.9: answers the installer's version probe as python3.9 would.
case "$*" in *version_info*) echo 3.9; exit 0 ;; esac
echo "fake python3.9: unexpected call: $*" >&2
exit 2
"""


def _fake_pythons(tmp_path: Path) -> dict[str, Path]:
    """Interpreters the installer must refuse: Debian's python3 with ensurepip hidden (its real
    interpreter, a stub module first on the path) and a Python 3.9 stand-in."""
    stub = tmp_path / "no-ensurepip"
    (stub / "ensurepip").mkdir(parents=True)
    (stub / "ensurepip" / "__init__.py").write_text(NO_ENSUREPIP)
    no_venv = tmp_path / "python3-without-venv"
    no_venv.write_text(f'#!/bin/sh\nPYTHONPATH="{stub}" exec {SYSTEM_PYTHON} "$@"\n')
    old = tmp_path / "python3.9"
    old.write_text(PYTHON_39)
    venv_fails = tmp_path / "python3-venv-fails"
    venv_fails.write_text(VENV_FAILS)
    for exe in (no_venv, old, venv_fails):
        exe.chmod(0o755)
    return {"no-venv": no_venv, "3.9": old, "venv-fails": venv_fails, "missing": tmp_path / "no-such-python3"}


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("case", "says"),
    [
        (
            "no-venv",
            "ensurepip module is missing — fix: sudo apt install python3-venv (or python{version}-venv)",
        ),
        ("3.9", "is Python 3.9, the gateway needs 3.11+ — fix: install a newer Python"),
        ("missing", "not found — fix: install Python 3.11+"),
    ],
)
def test_unusable_python_is_explained_in_one_line(tmp_path: Path, case: str, says: str) -> None:
    python = _fake_pythons(tmp_path)[case]
    if case == "no-venv":  # the stand-in really is the system Python, minus ensurepip
        probe = _run([str(python), "-c", "import ensurepip"], dict(os.environ))
        assert probe.returncode == 1 and "No module named 'ensurepip'" in probe.stderr, probe.stderr
        version = _ok(
            _run([str(SYSTEM_PYTHON), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], {})
        )
        says = says.format(version=version.strip())
    home = tmp_path / "home"
    env = {**_user_env(home), "PYTHON": str(python)}
    out = _run(["bash", str(ROOT / "installer" / "install.sh"), "--no-desktop"], env)
    assert out.returncode == 1, out
    lines = out.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"install.sh: {python} "), out.stderr
    assert says in lines[0]
    assert "+ " not in out.stdout, "nothing is attempted"
    assert not (home / ".local" / "share" / "stackbilt-llm-gateway").exists()


@pytest.mark.e2e
def test_failing_venv_creation_is_explained(tmp_path: Path) -> None:
    python = _fake_pythons(tmp_path)["venv-fails"]
    home = tmp_path / "home"
    env = {**_user_env(home), "PYTHON": str(python)}
    out = _run(["bash", str(ROOT / "installer" / "install.sh"), "--no-desktop"], env)
    assert out.returncode == 1, out
    assert out.stdout.splitlines()[0].startswith(f"+ {python} -m venv ")
    assert len(out.stdout.splitlines()) == 1, "nothing after the failed venv"
    last = out.stderr.splitlines()[-1]
    assert last.startswith(f"install.sh: {python} -m venv ") and "fix: sudo apt install python3" in last, last
