#!/usr/bin/env bash
# Install StackBilt LLM Gateway for the current user (macOS / Linux):
#   1. a dedicated virtual environment (default ~/.local/share/stackbilt-llm-gateway/venv),
#   2. the package with its desktop extra (tray + dashboard window) from SOURCE,
#   3. links to the commands in BIN_DIR (default ~/.local/bin),
#   4. login start-up of the tray (`stackbilt-gw autostart enable`; --systemd adds a user unit
#      for the daemon on Linux).
# Re-running it upgrades in place. Undo with uninstall.sh.
#
# Options:
#   --prefix DIR       where the venv lives (default: ~/.local/share/stackbilt-llm-gateway)
#   --venv DIR         the venv itself (default: PREFIX/venv)
#   --source SPEC      what pip installs (default: the checkout this script lives in)
#   --bin-dir DIR      where command links go (default: ~/.local/bin)
#   --python PY        interpreter for the venv (default: python3)
#   --no-desktop       no tray / window (headless server install)
#   --no-autostart     do not register login start-up
#   --systemd          Linux: also run the daemon from a systemd --user unit
#   --skip-install     use an existing venv as is (no venv creation, no pip)
#   --dry-run          print the actions, change nothing
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PREFIX="${XDG_DATA_HOME:-$HOME/.local/share}/stackbilt-llm-gateway"
VENV=""
SOURCE="$(dirname "$here")"
BIN_DIR="$HOME/.local/bin"
PY="python3"
DESKTOP=1
AUTOSTART=1
SYSTEMD=0
SKIP_INSTALL=0
DRY_RUN=0

die() { echo "install.sh: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX="${2:?--prefix needs a value}"; shift 2 ;;
    --venv) VENV="${2:?--venv needs a value}"; shift 2 ;;
    --source) SOURCE="${2:?--source needs a value}"; shift 2 ;;
    --bin-dir) BIN_DIR="${2:?--bin-dir needs a value}"; shift 2 ;;
    --python) PY="${2:?--python needs a value}"; shift 2 ;;
    --no-desktop) DESKTOP=0; shift ;;
    --no-autostart) AUTOSTART=0; shift ;;
    --systemd) SYSTEMD=1; shift ;;
    --skip-install) SKIP_INSTALL=1; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option: $1 (see --help)" ;;
  esac
done
VENV="${VENV:-$PREFIX/venv}"

# Print an action; run it unless --dry-run.
run() {
  printf '+'; printf ' %q' "$@"; printf '\n'
  [ "$DRY_RUN" = 1 ] || "$@"
}

if [ "$SKIP_INSTALL" = 0 ]; then
  command -v "$PY" >/dev/null 2>&1 || die "$PY not found: install Python 3.11+"
  "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || die "$PY is older than 3.11"
  venv_args=()
  # Linux: reuse the OS's PyGObject (GTK / WebKitGTK bindings) when it is there, so pip need
  # not build it (that needs libgirepository1.0-dev and libcairo2-dev).
  if [ "$DESKTOP" = 1 ] && [ "$(uname -s)" = Linux ] && "$PY" -c 'import gi' >/dev/null 2>&1; then
    venv_args+=(--system-site-packages)
  fi
  run "$PY" -m venv ${venv_args[@]+"${venv_args[@]}"} "$VENV"
  run "$VENV/bin/python" -m pip install --quiet --upgrade pip
  spec="$SOURCE"
  [ "$DESKTOP" = 1 ] && spec="${SOURCE}[desktop]"
  run "$VENV/bin/python" -m pip install --quiet --upgrade "$spec"
elif [ "$DRY_RUN" = 0 ] && [ ! -x "$VENV/bin/stackbilt-gw" ]; then
  die "--skip-install: $VENV/bin/stackbilt-gw does not exist"
fi

run mkdir -p "$BIN_DIR"
for cmd in stackbilt-gw stackbilt-llm-gateway stackbilt-gw-tray stackbilt-gw-dashboard; do
  if [ "$DRY_RUN" = 1 ] || [ -e "$VENV/bin/$cmd" ]; then
    run ln -sfn "$VENV/bin/$cmd" "$BIN_DIR/$cmd"
  fi
done

if [ "$AUTOSTART" = 1 ] && [ "$DESKTOP" = 1 ]; then
  if [ "$SYSTEMD" = 1 ]; then
    run "$VENV/bin/stackbilt-gw" autostart enable --systemd
  else
    run "$VENV/bin/stackbilt-gw" autostart enable
  fi
fi

echo "installed: $VENV"
case ":$PATH:" in
  *":$BIN_DIR:"*) ;;
  *) echo "note: add $BIN_DIR to your PATH" ;;
esac
echo "next: stackbilt-gw init   (store provider keys), then stackbilt-gw start"
