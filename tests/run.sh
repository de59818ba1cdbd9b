#!/usr/bin/env bash
# The project's test command (see README). It prepares what the suite needs — a virtual
# environment with the package and test tools, the pinned Claude Code and Codex CLIs from npm —
# then runs lint, type checks and pytest inside a network namespace that has only loopback
# (nothing can leave the machine) and a private D-Bus session (a real Secret Service keyring).
# Extra arguments go to pytest, e.g. `bash tests/run.sh -k messages`.
set -euo pipefail
cd "$(dirname "$0")/.."

CLAUDE_VERSION=2.1.330
CODEX_VERSION=0.169.0
NPM_DIR=.cache/npm

need() { command -v "$1" >/dev/null 2>&1 || { echo "tests/run.sh: '$1' is missing — $2" >&2; exit 1; }; }
need node "install Node.js 20+"
need npm "install npm"
need dbus-run-session "apt-get install dbus (or: bash .ci/run, which installs every system package)"
need gnome-keyring-daemon "apt-get install gnome-keyring libsecret-tools"
need unshare "apt-get install util-linux"
need ip "apt-get install iproute2"
need chromium "apt-get install chromium (the dashboard tests drive it; or: bash .ci/run)"

if [ ! -x .venv/bin/python ]; then
  "${PYTHON:-python3}" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test,desktop]'

installed_version() { node -p "require('./$NPM_DIR/node_modules/$1/package.json').version" 2>/dev/null || true; }
if [ "$(installed_version @anthropic-ai/claude-code)" != "$CLAUDE_VERSION" ] || [ "$(installed_version @openai/codex)" != "$CODEX_VERSION" ]; then
  mkdir -p "$NPM_DIR"
  npm install --prefix "$NPM_DIR" --no-audit --no-fund --no-save --engine-strict=false \
    "@anthropic-ai/claude-code@$CLAUDE_VERSION" "@openai/codex@$CODEX_VERSION" >/dev/null
fi

# The dashboard's npm tooling (webui/package.json: playwright-core drives Debian's chromium in
# tests/webui; chart.js is vendored into webui/static/vendor by webui/vendor.mjs).
if [ ! -f webui/node_modules/.package-lock.json ] || [ webui/package-lock.json -nt webui/node_modules/.package-lock.json ]; then
  npm ci --prefix webui --no-audit --no-fund >/dev/null
fi

# A wheelhouse for tests/desktop/test_install_fresh.py, which runs installer/install.sh with the
# system Python inside the loopback-only namespace below, where pip cannot reach the package
# index: the installer gets `--wheelhouse .cache/wheels`, wheels of the package's build and
# runtime requirements (no GUI extras). Rebuilt only when those or the Python version change.
WHEELS=.cache/wheels
wheel_stamp="$(.venv/bin/python -c 'import sys, tomllib
d = tomllib.load(open("pyproject.toml", "rb"))
print(sys.implementation.cache_tag)
print("\n".join(["pip", *d["build-system"]["requires"], *d["project"]["dependencies"]]))')"
if [ "$(cat "$WHEELS/stamp" 2>/dev/null)" != "$wheel_stamp" ]; then
  mkdir -p .cache
  tmp_wheels="$(mktemp -d .cache/wheels.XXXXXX)"
  printf '%s\n' "$wheel_stamp" | tail -n +2 >"$tmp_wheels/requirements.txt"
  .venv/bin/python -m pip wheel -q --disable-pip-version-check --wheel-dir "$tmp_wheels" -r "$tmp_wheels/requirements.txt"
  printf '%s\n' "$wheel_stamp" >"$tmp_wheels/stamp"
  rm -rf "$WHEELS" && mv "$tmp_wheels" "$WHEELS"
fi

.venv/bin/ruff check daemon tray webui installer tests bench
.venv/bin/ruff format --check daemon tray webui installer tests bench
.venv/bin/mypy
# Import contracts ([tool.importlinter] in pyproject.toml): the daemon's layers, the wire packages'
# independence, and the tray/webui/installer/CLI reaching the daemon only through daemon.control.
# grimp finds the namespace package's four portions through the same symlink tree mypy reads.
PYTHONPATH=".mypy-src${PYTHONPATH:+:$PYTHONPATH}" .venv/bin/lint-imports

# Loopback-only network namespace (as root: unshare -n; otherwise a user namespace maps us to root).
if [ "$(id -u)" = 0 ]; then NS=(unshare --net); else NS=(unshare --net --map-root-user); fi
exec "${NS[@]}" -- sh -c 'ip link set lo up && exec dbus-run-session -- bash tests/keyring_session.sh "$@"' pytest "$@"
