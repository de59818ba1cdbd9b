#!/usr/bin/env bash
# Uninstall StackBilt LLM Gateway for the current user (macOS / Linux): stop the daemon, remove
# login start-up, the command links and the virtual environment. Keys in the OS keyring, the
# config and the data directory are kept (delete keys with `stackbilt-gw keys delete NAME` first).
#
# Options:
#   --prefix DIR    where the venv lives (default: ~/.local/share/stackbilt-llm-gateway)
#   --venv DIR      the venv itself (default: PREFIX/venv)
#   --bin-dir DIR   where the command links are (default: ~/.local/bin)
#   --keep-venv     leave the virtual environment in place
#   --dry-run       print the actions, change nothing
set -euo pipefail

PREFIX="${XDG_DATA_HOME:-$HOME/.local/share}/stackbilt-llm-gateway"
VENV=""
BIN_DIR="$HOME/.local/bin"
KEEP_VENV=0
DRY_RUN=0

die() { echo "uninstall.sh: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX="${2:?--prefix needs a value}"; shift 2 ;;
    --venv) VENV="${2:?--venv needs a value}"; shift 2 ;;
    --bin-dir) BIN_DIR="${2:?--bin-dir needs a value}"; shift 2 ;;
    --keep-venv) KEEP_VENV=1; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option: $1 (see --help)" ;;
  esac
done
VENV="${VENV:-$PREFIX/venv}"

run() {
  printf '+'; printf ' %q' "$@"; printf '\n'
  [ "$DRY_RUN" = 1 ] || "$@"
}

gw="$VENV/bin/stackbilt-gw"
if [ -x "$gw" ] || [ "$DRY_RUN" = 1 ]; then
  run "$gw" stop || true
  run "$gw" autostart disable
fi
for cmd in stackbilt-gw stackbilt-llm-gateway stackbilt-gw-tray stackbilt-gw-dashboard; do
  link="$BIN_DIR/$cmd"
  # Only links into this venv: never remove someone else's command.
  if [ "$DRY_RUN" = 1 ] || { [ -L "$link" ] && [ "$(readlink "$link")" = "$VENV/bin/$cmd" ]; }; then
    run rm -f "$link"
  fi
done
if [ "$KEEP_VENV" = 0 ]; then
  [ -f "$VENV/pyvenv.cfg" ] || [ "$DRY_RUN" = 1 ] || die "$VENV does not look like a virtual environment; not removing it"
  run rm -rf "$VENV"
fi
echo "uninstalled (keyring entries, config and data kept)"
