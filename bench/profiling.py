"""Optional sampling profiles of the gateway while the benchmark drives it (py-spy).

Owns attaching ``py-spy record --pid`` (non-blocking, collapsed-stack output) to the daemon
for one measured phase, and summarising the samples into the hottest ``file:function`` pairs
by self time and by inclusive time. Profiled runs are for finding hot spots, not for the
budget: sampling costs the target some CPU. ``python -m bench.run --profile DIR`` uses this;
``python -m bench.profiling FILE...`` prints a summary of saved profiles.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>.*?)(?::\d+)?\)$")
# Leaf frames that are waits, not work (py-spy's idle detection is approximate in
# --nonblocking mode): the event loop's epoll wait, an executor thread waiting for work.
IDLE_LEAVES = frozenset(
    {
        "selectors.py:EpollSelector.select",
        "selectors.py:PollSelector.select",
        "concurrent/futures/thread.py:_worker",
        "threading.py:Condition.wait",
        "threading.py:Event.wait",
    }
)


def pyspy_binary() -> str | None:
    """``py-spy`` next to this interpreter, or on PATH."""
    local = Path(sys.executable).with_name("py-spy")
    return str(local) if local.exists() else shutil.which("py-spy")


def start(pid: int, out: Path, rate: int = 250) -> subprocess.Popen[bytes]:
    """Attach py-spy to ``pid``, writing collapsed stacks to ``out`` when stopped."""
    binary = pyspy_binary()
    if binary is None:
        raise RuntimeError("py-spy is not installed: .venv/bin/pip install py-spy")
    argv = [binary, "record", "--pid", str(pid), "--format", "raw", "--rate", str(rate)]
    argv += ["--nonblocking", "--output", str(out)]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def stop(proc: subprocess.Popen[bytes], wait_s: float = 20.0) -> str:
    """Ask py-spy to write its output (SIGINT) and wait; its stderr for diagnostics."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=wait_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate(timeout=5)
    return err.decode("utf-8", "replace")[-500:]


def _short(file: str) -> str:
    for marker in ("site-packages/", "/lib/python3"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file.replace(str(Path.cwd()) + "/", "")


def summarize(path: Path, top: int = 15) -> dict[str, object]:
    """Self and inclusive shares of busy samples per ``file:function`` (collapsed stacks)."""
    self_counts: Counter[str] = Counter()
    incl_counts: Counter[str] = Counter()
    total = idle = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = []
        for frame in stack.split(";"):
            m = _FRAME.match(frame)
            frames.append(f"{_short(m['file'])}:{m['func']}" if m else frame)
        if not frames or frames[-1] in IDLE_LEAVES:
            idle += count
            continue
        self_counts[frames[-1]] += count
        total += count
        for name in set(frames):
            incl_counts[name] += count

    def rows(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(name, 100.0 * n / total) for name, n in counter.most_common(top)] if total else []

    return {"samples": total, "idle_samples": idle, "self": rows(self_counts), "inclusive": rows(incl_counts)}


def summarize_project(path: Path, top: int = 15) -> list[tuple[str, float]]:
    """Inclusive shares of the gateway's own functions only (``daemon/...``)."""
    data = summarize(path, top=10_000)
    inclusive = data["inclusive"]
    assert isinstance(inclusive, list)
    return [(n, p) for n, p in inclusive if n.startswith(("daemon/", "/work"))][:top]


def main(argv: list[str] | None = None) -> int:
    for name in argv if argv is not None else sys.argv[1:]:
        data = summarize(Path(name))
        print(f"## {name} ({data['samples']} busy samples, {data['idle_samples']} idle left out)")
        for title in ("self", "inclusive"):
            print(f"### top by {title} time")
            rows = data[title]
            assert isinstance(rows, list)
            for fn, pct in rows:
                print(f"{pct:6.1f}%  {fn}")
        print("### gateway code, inclusive")
        for fn, pct in summarize_project(Path(name)):
            print(f"{pct:6.1f}%  {fn}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
