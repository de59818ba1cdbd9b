"""The Backtest view in a real headless Chromium against the real gateway: requests served through
the gateway (fake upstream on loopback) are the recorded traffic, replayed by ``GET /backtest``
(the daemon's table) and ``POST /backtest`` (a table edited in the view).

Checked in the DOM against the gateway's own answers (read here with the gateway key): the totals,
the per-class and per-session rows, the moves taken and refused with the planner's reasons, the
period switch, an edited cheaper table changing the simulated spend, a loss shown as a loss, a
bad table's 400 message shown in the panel, Reset, the empty state, and session ids rendered as
text. Money is formatted here by the tests' own copy of the dashboard's rule (``usd``)."""

from __future__ import annotations

import json
import time
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from stackbilt_gateway.daemon.telemetry.events import FallbackAttempt, GatewayRequestEvent
from stackbilt_gateway.daemon.telemetry.store import insert_events, open_db
from tests.e2e.conftest import wait_events
from tests.fakes.gateway import GatewayThread
from tests.webui.browser import Browser
from tests.webui.conftest import KEY_HEADERS
from tests.webui.test_dashboard_browser import open_view, wait_text

pytestmark = pytest.mark.e2e
MINUS = "\u2212"
SONNET = "claude-sonnet-4-5"
HAIKU = "anthropic/claude-haiku-4-5"
# A session id a client chose: it must show as text, never as markup.
ODD_SESSION = "sess-<b>b</b>"
# Cheaper than the daemon's table on this traffic: the summary stays on Sonnet (its cache stays
# warm for the next turn) and the title and planning turns go to Haiku.
CHEAPER = {"summary": ["requested"], "fallback_safe": [HAIKU], "planning": [HAIKU]}
NEG_RGB = (214, 69, 93)  # --neg in webui/static/app.css


def usd(value: float) -> str:
    """``usd`` of webui/static/js/fmt.js, written out: 4 decimals under a cent, 2 under $100,
    whole dollars above; a real minus sign."""
    amount = abs(Decimal(value))
    digits = 2 if amount == 0 else 4 if amount < Decimal("0.01") else 2 if amount < 100 else 0
    text = f"{amount.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP):,}"
    return (MINUS if value < 0 else "") + "$" + text


def saving(value: float) -> str:
    if value > 0:
        return f"saves {usd(value)}"
    if value < 0:
        return f"costs {usd(-value)} more"
    return "no change"


def _ask(gw: GatewayThread, session: str, text: str) -> None:
    body = {"model": SONNET, "max_tokens": 200, "messages": [{"role": "user", "content": text}]}
    headers = {**KEY_HEADERS, "anthropic-version": "2023-06-01", "x-claude-code-session-id": session}
    resp = httpx.post(f"{gw.url}/v1/messages", json=body, headers=headers, timeout=10, trust_env=False)
    assert resp.status_code == 200, resp.text[:300]


def _old_event(database: Path) -> None:
    """Ten days ago: only in the 30-day period (written straight into the gateway's store)."""
    event = GatewayRequestEvent(
        ts=time.time() - 10 * 86_400,
        client="claude-code",
        route_class="planning",
        confidence=0.9,
        mode="shadow",
        session_id="sess-old",
        requested_provider="anthropic",
        requested_model=SONNET,
        selected_provider="anthropic",
        selected_model=SONNET,
        fallback_chain=[FallbackAttempt("anthropic", SONNET, "ok")],
        input_tokens=3_000,
        output_tokens=400,
    )
    conn = open_db(database)
    try:
        insert_events(conn, [event])
    finally:
        conn.close()


def _record(gw: GatewayThread, database: Path) -> None:
    _ask(gw, "sess-a", "Summarize what changed so far in three bullet points.")
    _ask(gw, "sess-a", "Write a title for this conversation")
    _ask(gw, "sess-a", "Refactor the parser module to use a state machine and explain the design in depth.")
    _ask(
        gw, ODD_SESSION, "Refactor the parser module to use a state machine and explain the design in depth."
    )
    wait_events(gw, 4)
    _old_event(database)


def _api(gw: GatewayThread, routes: dict[str, list[str]] | None = None, since: str = "7d") -> httpx.Response:
    if routes is None:
        return httpx.get(f"{gw.url}/backtest", params={"since": since}, headers=KEY_HEADERS, timeout=30)
    body = {"routes": routes, "since": since}
    return httpx.post(f"{gw.url}/backtest", json=body, headers=KEY_HEADERS, timeout=30)


def _report(
    gw: GatewayThread, routes: dict[str, list[str]] | None = None, since: str = "7d"
) -> dict[str, Any]:
    resp = _api(gw, routes, since)
    assert resp.status_code == 200, resp.text[:300]
    report: dict[str, Any] = resp.json()
    return report


def _edit_and_run(browser: Browser, text: str) -> None:
    browser.eval(
        f"""(() => {{ const t = document.getElementById('bt-routes'); t.value = {json.dumps(text)};
        t.dispatchEvent(new Event('input', {{ bubbles: true }})); }})()"""
    )
    browser.call("click", selector="#bt-run")


def _totals_shown(browser: Browser, report: dict[str, Any]) -> None:
    totals = report["totals"]
    wait_text(browser, "#bt-simulated", usd(totals["simulated_usd"]))
    assert browser.text("#bt-actual") == usd(totals["actual_usd"])
    assert browser.text("#bt-requests") == str(totals["requests"])
    value = totals["savings_usd"]
    assert browser.text("#bt-savings") == usd(abs(value))
    label = browser.text("#bt-savings-label")
    sub = browser.text("#bt-savings-sub")
    classes = browser.eval("document.getElementById('bt-savings').className")
    if value < 0:
        assert label == "Loss" and "neg" in classes.split() and "pos" not in classes.split()
        assert f"costs {usd(-value)} more" in sub and "saved" not in sub
    else:
        assert label == "Savings" and "neg" not in classes.split()
        assert (f"would have saved {usd(value)}" in sub) if value > 0 else sub == "the same as what ran"
    subline = browser.text("#bt-requests-sub")
    assert f"{totals['moves_taken']} moved" in subline and f"{totals['moves_refused']} refused" in subline
    assert f"{report['skipped']} not replayed" in subline


def _tally_cells(tally: dict[str, Any], name: str) -> list[str]:
    return [
        name,
        str(tally["requests"]),
        usd(tally["actual_usd"]),
        usd(tally["simulated_usd"]),
        saving(tally["savings_usd"]),
        str(tally["moves_taken"]),
        str(tally["moves_refused"]),
        str(tally["unpriced"]),
    ]


def _rows_shown(browser: Browser, report: dict[str, Any]) -> None:
    assert int(browser.call("count", selector="#bt-classes tbody tr")) == len(report["by_class"])
    for name, tally in report["by_class"].items():
        assert browser.texts(f"#bt-classes tr[data-class='{name}'] td") == _tally_cells(tally, name)
    rows = browser.eval(
        "[...document.querySelectorAll('#bt-sessions tbody tr')]"
        ".map((tr) => [tr.dataset.session, [...tr.cells].map((td) => td.textContent.trim())])"
    )
    assert {key: cells for key, cells in rows} == {
        name: _tally_cells(tally, name) for name, tally in report["by_session"].items()
    }
    taken = browser.eval(
        "[...document.querySelectorAll('#bt-taken tbody tr')].map((tr) => [tr.dataset.event,"
        " [...tr.cells].map((td) => td.textContent.trim())])"
    )
    assert [event for event, _ in taken] == [m["event_id"] for m in report["moves_taken"]]
    for (_, cells), move in zip(taken, report["moves_taken"], strict=True):
        assert cells[0] == move["route_class"] and cells[1] == move["rule"]
        assert cells[2] == move["requested"] and cells[3] == move["to"]
        assert cells[5] == saving(move["savings_usd"])
    refused = browser.eval(
        "[...document.querySelectorAll('#bt-refused tbody tr')].map((tr) => [tr.dataset.event,"
        " [...tr.querySelectorAll('td.why div')].map((d) => d.textContent)])"
    )
    assert refused == [[m["event_id"], m["reasons"]] for m in report["moves_refused"]]


def test_backtest_panel(gateway: GatewayThread, database: Path, browser: Browser, tmp_path: Path) -> None:
    _record(gateway, database)
    own = _report(gateway)
    assert own["totals"]["requests"] == 4 and own["skipped"] == 0
    # The daemon's table moves the summary to Groq: the next turn of that session then finds no
    # warm Sonnet cache in the simulated world, and the whole period costs more than what ran.
    assert own["totals"]["moves_taken"] == 1 and own["totals"]["savings_usd"] < 0, own["totals"]

    open_view(browser, gateway, "backtest")
    assert browser.eval("document.querySelector('.topbar .range').hidden") is True  # its own switch
    assert "the daemon's route table" in browser.text("#bt-source")
    assert json.loads(browser.eval("document.getElementById('bt-routes').value")) == own["routes"]
    _totals_shown(browser, own)
    _rows_shown(browser, own)
    # A loss per class is worded and coloured as one, never as a saving.
    losing = [name for name, t in own["by_class"].items() if t["savings_usd"] < 0]
    assert losing, own["by_class"]
    for name in losing:
        cell = f"#bt-classes tr[data-class='{name}'] td.savings span"
        assert browser.eval(f"document.querySelector({json.dumps(cell)}).className").split() == [
            "neg",
            "loss",
        ]
        assert browser.text(cell).startswith("costs ")
    # The client's session id is text, not markup.
    assert ODD_SESSION in browser.texts("#bt-sessions tbody td code")
    assert int(browser.call("count", selector="#bt-sessions tbody td b")) == 0

    shot = tmp_path / "backtest.png"
    browser.call("screenshot", path=str(shot))
    print(f"\nbacktest screenshot: {shot}")
    box = browser.call("box", selector="#bt-savings-card")
    with Image.open(shot) as img:
        crop = img.convert("RGB").crop(
            (int(box["x"]), int(box["y"]), int(box["x"] + box["width"]), int(box["y"] + box["height"]))
        )
        raw = crop.tobytes()
    pixels = [tuple(raw[i : i + 3]) for i in range(0, len(raw), 3)]
    red = sum(1 for p in pixels if all(abs(p[i] - NEG_RGB[i]) < 25 for i in range(3)))
    assert red > 50, red  # the loss is drawn in red

    # The period switch: ten days ago is only in the 30-day replay.
    month = _report(gateway, since="30d")
    assert month["totals"]["requests"] == 5
    browser.call("click", selector=".bt-since button[data-since='30d']")
    wait_text(browser, "#bt-requests", "5")
    _totals_shown(browser, month)
    assert "sess-old" in browser.eval(
        "[...document.querySelectorAll('#bt-sessions tbody tr')].map((tr) => tr.dataset.session)"
    )
    assert "the last 30 days" in browser.text("#bt-source")
    browser.call("click", selector=".bt-since button[data-since='7d']")
    wait_text(browser, "#bt-requests", "4")

    # A cheaper table, edited in the view and run: the simulated spend the API gives for it.
    cheaper = _report(gateway, {**own["routes"], **CHEAPER})
    assert cheaper["totals"]["simulated_usd"] < own["totals"]["simulated_usd"]
    assert cheaper["totals"]["savings_usd"] > 0
    _edit_and_run(browser, json.dumps({**own["routes"], **CHEAPER}, indent=1))
    _totals_shown(browser, cheaper)
    _rows_shown(browser, cheaper)
    assert "the edited table" in browser.text("#bt-source")
    assert browser.text("#bt-simulated") != usd(own["totals"]["simulated_usd"])
    assert {m["to"] for m in cheaper["moves_taken"]} == {HAIKU}

    # A table the planner refuses (no Cerebras key here): the refusal and its reason are listed.
    unkeyed = {"summary": ["cerebras/gpt-oss-120b"]}
    refused = _report(gateway, unkeyed)
    assert refused["totals"]["moves_refused"] == 1
    assert refused["moves_refused"][0]["reasons"] == ["skip cerebras/gpt-oss-120b: provider not configured"]
    _edit_and_run(browser, json.dumps(unkeyed))
    browser.call("wait", selector="#bt-refused tbody tr")
    _totals_shown(browser, refused)
    _rows_shown(browser, refused)
    assert browser.text("#bt-refused-note") == ""
    assert browser.text("#bt-taken-note") == "This table moves no request."
    browser.call("consoleErrors")  # nothing failed so far (checked below with the 400)

    # A bad table: the 400's own message is shown in the panel; the last numbers stay, labelled.
    bad = _api(gateway, {"nonsense": ["a/b"]})
    assert bad.status_code == 400
    message = bad.json()["error"]["message"]
    assert message.startswith("unknown route class 'nonsense'")
    _edit_and_run(browser, json.dumps({"nonsense": ["a/b"]}))
    browser.wait_for("!document.getElementById('bt-error').hidden")
    assert browser.text("#bt-error-text") == message
    assert browser.text("#bt-status") == "the numbers below are from the previous run"
    assert browser.text("#bt-simulated") == usd(refused["totals"]["simulated_usd"])
    errors = browser.call("consoleErrors")
    assert all("400" in e for e in errors), errors  # only the browser's note of the 400 itself

    # Not JSON: said before anything is sent.
    _edit_and_run(browser, "{not json")
    browser.wait_for(
        "document.getElementById('bt-error-text').textContent.startsWith('The route table is not valid JSON')"
    )

    # Reset: the daemon's table again, its numbers, the error gone.
    browser.call("click", selector="#bt-reset")
    _totals_shown(browser, own)
    browser.wait_for("document.getElementById('bt-error').hidden")
    assert json.loads(browser.eval("document.getElementById('bt-routes').value")) == own["routes"]
    assert "the daemon's route table" in browser.text("#bt-source")
    # The poll does not re-run the replay (nor undo an edit).
    _edit_and_run(browser, json.dumps({**own["routes"], **CHEAPER}))
    _totals_shown(browser, cheaper)
    time.sleep(3.5)
    assert browser.text("#bt-simulated") == usd(cheaper["totals"]["simulated_usd"])
    assert browser.call("consoleErrors") == []


def test_backtest_empty_state(gateway: GatewayThread, browser: Browser) -> None:
    empty = _report(gateway)
    assert empty["totals"]["requests"] == 0
    open_view(browser, gateway, "backtest")
    assert browser.text("#bt-empty-text") == "No recorded requests in this period."
    assert browser.eval("document.getElementById('bt-results').hidden") is True
    assert browser.eval("document.getElementById('bt-detail').hidden") is True
    # The editor still shows the daemon's table, ready for when there is traffic.
    assert json.loads(browser.eval("document.getElementById('bt-routes').value")) == empty["routes"]
    assert browser.call("consoleErrors") == []
