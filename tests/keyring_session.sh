#!/usr/bin/env bash
# Runs inside `dbus-run-session` (see tests/run.sh): starts an unlocked gnome-keyring Secret
# Service with a private home BEFORE anything can ask D-Bus for one — otherwise the bus would
# auto-activate a locked keyring in the real home on the first keyring call — then runs pytest.
set -euo pipefail
home="$(mktemp -d -t gw-keyring-XXXXXX)"
mkdir -p "$home/data" "$home/config" "$home/run" && chmod 700 "$home/run"
export XDG_RUNTIME_DIR="$home/run"
# Later activations (if ours ever went away) must not touch the real home either.
dbus-update-activation-environment HOME="$home" XDG_DATA_HOME="$home/data" \
  XDG_CONFIG_HOME="$home/config" XDG_RUNTIME_DIR="$home/run" 2>/dev/null || true
printf test | HOME="$home" XDG_DATA_HOME="$home/data" XDG_CONFIG_HOME="$home/config" \
  gnome-keyring-daemon --unlock --components=secrets --daemonize >/dev/null
for _ in $(seq 1 100); do
  if dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
      org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q "boolean true"; then
    break
  fi
  sleep 0.1
done
status=0
.venv/bin/python -m pytest "$@" || status=$?
# Stop our own keyring daemon only (one whose runtime dir is ours): another test session on this
# machine has its own, and killing it would leave that session's keyring to a locked re-activation.
for pid in $(pgrep -u "$(id -u)" -f "gnome-keyring-daemon --unlock --components=secrets" || true); do
  if tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null | grep -qx "XDG_RUNTIME_DIR=$home/run"; then
    kill "$pid" 2>/dev/null || true
  fi
done
rm -rf "$home"
exit "$status"
