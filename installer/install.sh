#!/usr/bin/env bash
# Install StackBilt LLM Gateway for the current user (macOS / Linux). Nothing goes into the system
# Python, so an externally-managed one (Debian/Ubuntu, Homebrew: PEP 668) is fine:
#   1. a dedicated virtual environment (default ~/.local/share/stackbilt-llm-gateway/venv),
#   2. the package with its desktop extra (tray + dashboard window) from SOURCE,
#   3. links to the commands in BIN_DIR (default ~/.local/bin),
#   4. login start-up of the tray (`stackbilt-gw autostart enable`; --systemd adds a user unit
#      for the daemon on Linux),
#   5. with --team-config, the team's telemetry settings written into the user's config file,
#   6. with --start, the daemon itself (`stackbilt-gw start`).
# Re-running it upgrades in place. Undo with uninstall.sh.
#
# Options:
#   --prefix DIR       where the venv lives (default: ~/.local/share/stackbilt-llm-gateway)
#   --venv DIR         the venv itself (default: PREFIX/venv)
#   --source SPEC      what pip installs (default: the checkout this script lives in)
#   --bin-dir DIR      where command links go (default: ~/.local/bin)
#   --python PY        interpreter for the venv, 3.11+ (default: $PYTHON, else python3)
#   --wheelhouse DIR   install only from the wheels in DIR, no package index (offline machines)
#   --no-desktop       no tray / window (headless server install)
#   --no-autostart     do not register login start-up
#   --systemd          Linux: also run the daemon from a systemd --user unit
#   --start            start the daemon when installed
#   --team-config URL|FILE  join a team (docs/teams.md): a postgresql:// URL (the shared ledger,
#                      telemetry.postgres_url; adds the `team` extra), an http(s):// OTLP collector
#                      (telemetry.otlp.endpoint; adds the `otel` extra), or a JSON file of settings
#                      merged into the user's config file (which stays private: mode 600)
#   --skip-install     use an existing venv as is (no venv creation, no pip)
#   --dry-run          print the actions, change nothing
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PREFIX="${XDG_DATA_HOME:-$HOME/.local/share}/stackbilt-llm-gateway"
VENV=""
SOURCE="$(dirname "$here")"
BIN_DIR="$HOME/.local/bin"
PY="${PYTHON:-python3}"
WHEELHOUSE=""
DESKTOP=1
AUTOSTART=1
SYSTEMD=0
START=0
SKIP_INSTALL=0
DRY_RUN=0
TEAM_CONFIG=""

die() { echo "install.sh: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX="${2:?--prefix needs a value}"; shift 2 ;;
    --venv) VENV="${2:?--venv needs a value}"; shift 2 ;;
    --source) SOURCE="${2:?--source needs a value}"; shift 2 ;;
    --bin-dir) BIN_DIR="${2:?--bin-dir needs a value}"; shift 2 ;;
    --python) PY="${2:?--python needs a value}"; shift 2 ;;
    --wheelhouse) WHEELHOUSE="${2:?--wheelhouse needs a value}"; shift 2 ;;
    --no-desktop) DESKTOP=0; shift ;;
    --no-autostart) AUTOSTART=0; shift ;;
    --systemd) SYSTEMD=1; shift ;;
    --start) START=1; shift ;;
    --team-config) TEAM_CONFIG="${2:?--team-config needs a URL or a file}"; shift 2 ;;
    --skip-install) SKIP_INSTALL=1; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) die "unknown option: $1 (see --help)" ;;
  esac
done
VENV="${VENV:-$PREFIX/venv}"

# What --team-config brings: the extras it needs (psycopg for PostgreSQL, the OTLP exporter).
EXTRAS=()
[ "$DESKTOP" = 1 ] && EXTRAS+=(desktop)
case "$TEAM_CONFIG" in
  "") ;;
  postgresql://*|postgres://*) EXTRAS+=(team) ;;
  http://*|https://*) EXTRAS+=(otel) ;;
  *)
    { [ -f "$TEAM_CONFIG" ] && [ -r "$TEAM_CONFIG" ]; } ||
      die "--team-config $TEAM_CONFIG: neither a postgresql:// or http(s):// URL nor a readable file"
    grep -q postgres_url "$TEAM_CONFIG" && EXTRAS+=(team)
    grep -q '"otlp"' "$TEAM_CONFIG" && EXTRAS+=(otel)
    ;;
esac

# Print an action; run it unless --dry-run.
run() {
  printf '+'; printf ' %q' "$@"; printf '\n'
  [ "$DRY_RUN" = 1 ] || "$@"
}

# The interpreter must exist, be 3.11+ and able to make a venv (Debian/Ubuntu ship ensurepip,
# which venv needs, in the separate python3-venv package). Each failure is one line with its fix.
check_python() {
  local ver major minor
  command -v "$PY" >/dev/null 2>&1 ||
    die "$PY not found — fix: install Python 3.11+ (Debian/Ubuntu: sudo apt install python3 python3-venv; macOS: brew install python), or pass --python PATH"
  ver="$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" || ver=""
  case "$ver" in
    [0-9]*.[0-9]*) ;;
    *) die "$PY did not report its version — fix: pass a working Python 3.11+ with --python PATH" ;;
  esac
  major="${ver%%.*}"; minor="${ver#*.}"
  if [ "$major" -lt 3 ] || { [ "$major" = 3 ] && [ "$minor" -lt 11 ]; }; then
    die "$PY is Python $ver, the gateway needs 3.11+ — fix: install a newer Python (macOS: brew install python; Debian/Ubuntu: sudo apt install python3.11-venv) and re-run with --python python3.11 (or newer)"
  fi
  "$PY" -c 'import ensurepip, venv' >/dev/null 2>&1 ||
    die "$PY (Python $ver) cannot create virtual environments: its ensurepip module is missing — fix: sudo apt install python3-venv (or python$ver-venv), then re-run"
  PY_VERSION="$ver"
}

if [ "$SKIP_INSTALL" = 0 ]; then
  check_python
  [ -z "$WHEELHOUSE" ] || [ -d "$WHEELHOUSE" ] || die "--wheelhouse $WHEELHOUSE is not a directory"
  venv_args=()
  # Linux: reuse the OS's PyGObject (GTK / WebKitGTK bindings) when it is there, so pip need
  # not build it (that needs libgirepository1.0-dev and libcairo2-dev).
  if [ "$DESKTOP" = 1 ] && [ "$(uname -s)" = Linux ] && "$PY" -c 'import gi' >/dev/null 2>&1; then
    venv_args+=(--system-site-packages)
  fi
  # A venv whose interpreter no longer runs (say Homebrew replaced that Python) is rebuilt.
  if [ -f "$VENV/pyvenv.cfg" ] && ! "$VENV/bin/python" -c '' >/dev/null 2>&1; then
    venv_args+=(--clear)
  fi
  run "$PY" -m venv ${venv_args[@]+"${venv_args[@]}"} "$VENV" ||
    die "$PY -m venv $VENV failed — fix: sudo apt install python$PY_VERSION-venv (Debian/Ubuntu), or pass another Python 3.11+ with --python"
  pip_args=(--quiet --upgrade)
  [ -z "$WHEELHOUSE" ] || pip_args+=(--no-index --find-links "$WHEELHOUSE")
  run "$VENV/bin/python" -m pip install "${pip_args[@]}" pip
  spec="$SOURCE"
  if [ ${#EXTRAS[@]} -gt 0 ]; then
    spec="${SOURCE}[$(IFS=,; echo "${EXTRAS[*]}")]"
  fi
  run "$VENV/bin/python" -m pip install "${pip_args[@]}" "$spec"
elif [ "$DRY_RUN" = 0 ] && [ ! -x "$VENV/bin/stackbilt-gw" ]; then
  die "--skip-install: $VENV/bin/stackbilt-gw does not exist"
fi

run mkdir -p "$BIN_DIR"
for cmd in stackbilt-gw stackbilt-llm-gateway stackbilt-gw-tray stackbilt-gw-dashboard; do
  if [ "$DRY_RUN" = 1 ] || [ -e "$VENV/bin/$cmd" ]; then
    run ln -sfn "$VENV/bin/$cmd" "$BIN_DIR/$cmd"
  fi
done

# --team-config: merged into the user's config file by the installed package itself (it knows
# where that file is), validated like the daemon does; a bad value leaves the file as it was.
if [ -n "$TEAM_CONFIG" ]; then
  if [ "$DRY_RUN" = 1 ]; then
    echo "+ write the team settings from --team-config into the user's config file"
  else
    "$VENV/bin/python" - "$TEAM_CONFIG" <<'PY' || die "--team-config: the settings were not written (see above)"
import json, os, sys
from pathlib import Path

from stackbilt_gateway.daemon.config_load import load_config
from stackbilt_gateway.daemon.control.paths import resolve_paths
from stackbilt_gateway.daemon.core.config import ConfigError, mask_url_password

value = sys.argv[1]
if value.startswith(("postgresql://", "postgres://")):
    team = {"telemetry": {"postgres_url": value}}
elif value.startswith(("http://", "https://")):
    team = {"telemetry": {"otlp": {"endpoint": value}}}
else:
    try:
        team = json.loads(Path(value).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        sys.exit(f"{value}: not a JSON settings file ({exc})")
    if not isinstance(team, dict):
        sys.exit(f"{value}: expected a JSON object of settings")


def merge(into: dict, new: dict) -> dict:
    for key, item in new.items():
        if isinstance(item, dict) and isinstance(into.get(key), dict):
            merge(into[key], item)
        else:
            into[key] = item
    return into


paths = resolve_paths()
path = paths.user_config_file
before = path.read_text(encoding="utf-8") if path.is_file() else None
try:
    current = json.loads(before) if before else {}
except ValueError as exc:
    sys.exit(f"{path}: not valid JSON ({exc}); fix it, then re-run")
paths.ensure()
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
with os.fdopen(fd, "w", encoding="utf-8") as fh:
    json.dump(merge(current, team), fh, indent=2)
    fh.write("\n")
os.chmod(path, 0o600)
try:
    telemetry = load_config(cwd=paths.config_dir, paths=paths).telemetry
except ConfigError as exc:
    if before is None:
        path.unlink()
    else:
        path.write_text(before, encoding="utf-8")
    sys.exit(f"team settings refused: {exc}")
shown = telemetry.postgres_url_shown or telemetry.otlp.endpoint or "settings"
print(f"team: {mask_url_password(str(shown))} written to {path}")
PY
  fi
fi

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
if [ "$START" = 1 ]; then
  run "$VENV/bin/stackbilt-gw" start
  echo "next: stackbilt-gw init   (store provider keys)"
else
  echo "next: stackbilt-gw init   (store provider keys), then stackbilt-gw start"
fi
