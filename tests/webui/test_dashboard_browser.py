"""The dashboard in a real headless Chromium against the real gateway with seeded telemetry:
every view shows the seeded numbers, filters and the shadow/live switch work, numbers move with
live traffic, the overview's chart is drawn (screenshot artifact), and other pages on this
machine cannot use the session to flip the mode."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.fakes.gateway import GatewayThread
from tests.webui.browser import Browser
from tests.webui.conftest import KEY_HEADERS, one_time_url
from tests.webui.seed import EXPECTED

pytestmark = pytest.mark.e2e
MINUS = "\u2212"  # the dashboard writes negative money with a real minus sign
SPEND_RGB = (59, 111, 216)  # COLORS.spend in webui/static/js/charts.js


def open_view(browser: Browser, gateway: GatewayThread, view: str = "overview") -> None:
    # Leave the previous test's page first (its gateway is gone, and its polling logs connection
    # errors that are not this test's), then drop what it logged.
    browser.goto("about:blank")
    browser.call("consoleErrors")
    assert browser.goto(one_time_url(gateway))["url"] == gateway.url + "/ui/"  # token gone from the URL
    browser.wait_for("document.body.dataset.ready === 'overview'")
    if view != "overview":
        browser.eval(f"location.hash = '#{view}'")
        browser.wait_for(f"document.body.dataset.ready === '{view}'")


def wait_text(browser: Browser, selector: str, expected: str, timeout: float = 10.0) -> None:
    expr = f"document.querySelector({json.dumps(selector)})?.textContent.trim() === {json.dumps(expected)}"
    try:
        browser.wait_for(expr, timeout)
    except AssertionError:
        raise AssertionError(f"{selector}: wanted {expected!r}, shows {browser.text(selector)!r}") from None


def rows(browser: Browser, selector: str) -> int:
    return int(browser.call("count", selector=selector))


def test_overview_numbers_charts_and_screenshot(
    seeded: GatewayThread, browser: Browser, tmp_path: Path
) -> None:
    open_view(browser, seeded)
    for since, want in EXPECTED.items():
        browser.call("click", selector=f".range button[data-since='{since}']")
        wait_text(browser, "#kpi-requests", want["requests"])
        wait_text(browser, "#kpi-spend", want["spend"])
        wait_text(browser, "#kpi-savings", want["savings"])
        assert browser.text("#kpi-savings-label") == "Realised savings"
        assert f"projected {want['projected']} (shadow" in browser.text("#kpi-savings-sub")
    browser.call("click", selector=".range button[data-since='today']")
    wait_text(browser, "#kpi-requests", "4")
    assert browser.text("#kpi-effort") == "lower effort +$0.05 (estimated)"  # shown, never summed
    assert browser.text("#tok-in") == "6.9k" and browser.text("#tok-cr") == "50k"
    assert browser.text("#tok-cw") == "1.0k" and browser.text("#tok-out") == "1.3k"
    assert "1 error" in browser.text("#kpi-requests-sub")
    # Negative savings are shown as such (the warm-cache Sonnet turn).
    assert MINUS + "$0.25" in browser.texts("#ov-models .neg[title='projected']")
    assert browser.eval("document.getElementById('ov-empty').hidden") is True

    browser.call("click", selector=".range button[data-since='30d']")
    wait_text(browser, "#kpi-requests", "6")
    # projected and realised savings are two series of the money chart, never one sum
    sums = browser.eval(
        """(() => Chart.getChart(document.getElementById('chart-money')).data.datasets
        .map((d) => [d.label, d.data.reduce((a, b) => a + b, 0)]))()"""
    )
    assert [label for label, _ in sums] == ["Spend", "Projected savings", "Realised savings"]
    assert sums[1][1] == pytest.approx(4.65) and sums[2][1] == pytest.approx(0.75)
    time.sleep(0.8)  # let the chart animation settle
    shot = tmp_path / "overview.png"
    browser.call("screenshot", path=str(shot))
    print(f"\noverview screenshot: {shot}")
    drawn = browser.eval(
        """(() => { const c = document.getElementById('chart-money');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let ink = 0, spend = 0;
        for (let i = 0; i < d.length; i += 4) {
          if (d[i + 3] > 0) ink++;
          const near = Math.abs(d[i] - 59) + Math.abs(d[i + 1] - 111) + Math.abs(d[i + 2] - 216);
          if (near < 30) spend++;
        }
        return { ink, spend }; })()"""
    )
    assert drawn["ink"] > 2000 and drawn["spend"] > 200, drawn
    box = browser.call("box", selector="#chart-money")
    with Image.open(shot) as img:
        rgb = img.convert("RGB")
        crop = rgb.crop(
            (int(box["x"]), int(box["y"]), int(box["x"] + box["width"]), int(box["y"] + box["height"]))
        )
        raw = crop.tobytes()
    pixels = [tuple(raw[i : i + 3]) for i in range(0, len(raw), 3)]
    background = max(set(pixels), key=pixels.count)
    assert sum(1 for p in pixels if p != background) > 0.03 * len(pixels)
    assert (
        sum(1 for p in pixels if abs(p[0] - 59) < 15 and abs(p[1] - 111) < 15 and abs(p[2] - 216) < 15) > 200
    )
    assert browser.call("consoleErrors") == []  # no CSP violations, no script errors
    assert "sgw-test-gateway-key" not in browser.call("content")


def test_routes_view(seeded: GatewayThread, browser: Browser) -> None:
    open_view(browser, seeded, "routes")
    row = "#routes-classes tr[data-class='background']"
    browser.call("wait", selector=row)
    cells = browser.texts(row + " td")
    assert cells[1] == "1" and cells[2].endswith("0.90")
    assert "anthropic/claude-opus-5" in cells[3] and "groq/llama-3.1-8b-instant" in cells[4]
    assert cells[5] == "+$0.40"
    assert browser.texts("#routes-classes tr[data-class='tool_loop'] td")[5] == MINUS + "$0.25"
    assert rows(browser, "#routes-classes tbody tr") == 4
    assert any("groq/llama-3.1-8b-instant" in t for t in browser.texts("#route-table tr"))
    assert browser.eval("!!Chart.getChart(document.getElementById('chart-classes'))") is True


def test_providers_view(seeded: GatewayThread, browser: Browser) -> None:
    open_view(browser, seeded, "providers")
    browser.call("wait", selector="#prov-table tr[data-provider='groq']")
    anthropic = browser.texts("#prov-table tr[data-provider='anthropic'] td")
    assert anthropic[1] == "present" and "closed" in anthropic[2]
    assert anthropic[3] == "3" and anthropic[4] == "33%" and anthropic[7] == "$1.75"
    groq = browser.texts("#prov-table tr[data-provider='groq'] td")
    assert groq[5] == "1"  # the failed attempt before Cerebras answered
    cerebras = browser.texts("#prov-table tr[data-provider='cerebras'] td")
    assert "not configured" in cerebras[2] and cerebras[3] == "1" and cerebras[6] == "700 ms / 700 ms"
    assert any("Overloaded" in t for t in browser.texts("#prov-errors li"))


def test_events_filters_and_detail(seeded: GatewayThread, browser: Browser) -> None:
    open_view(browser, seeded, "events")
    events = "#ev-table tbody tr[data-id]"

    def shows(n: int, every: str = "true") -> None:
        """Wait until the table has ``n`` rows and each satisfies ``every`` (JS over ``r``)."""
        rows_js = f"[...document.querySelectorAll('{events}')]"
        browser.wait_for(f"{rows_js}.length === {n} && {rows_js}.every((r) => {every})")

    shows(6)
    browser.call("select", selector="#f-provider", value="cerebras")
    shows(1, "r.textContent.includes('cerebras/gpt-oss-120b')")
    browser.call("select", selector="#f-provider", value="")
    browser.call("select", selector="#f-status", value="error")
    shows(1, "r.querySelector('.status.error') !== null")
    assert "fallback_safe" in browser.text(events)
    browser.call("select", selector="#f-status", value="")
    browser.call("select", selector="#f-client", value="codex")
    shows(2, "r.textContent.includes('codex')")
    browser.call("select", selector="#f-route_class", value="summary")
    shows(1, "r.textContent.includes('summary')")
    browser.call("click", selector=events)
    browser.call("wait", selector="#ev-detail")
    chain = browser.texts("#ev-d-chain li")
    assert chain == [
        "1. groq/llama-3.1-8b-instant — error (upstream_server)",
        "2. cerebras/gpt-oss-120b — ok",
    ]
    assert (
        browser.text("#ev-d-class") == "summary" and browser.text("#ev-d-served") == "cerebras/gpt-oss-120b"
    )
    assert browser.text("#ev-d-cost") == "$0.25"
    detail = browser.text("#ev-detail")
    assert "realised savings" in detail and "+$0.75" in detail and "summarize" in detail
    assert "Prompt text is not stored" in detail


def test_settings_switches_the_daemons_mode(seeded: GatewayThread, browser: Browser) -> None:
    open_view(browser, seeded, "settings")
    browser.call("wait", selector="#keys-table tr[data-key='anthropic']")
    assert "present" in browser.text("#keys-table tr[data-key='anthropic']")
    assert "not set" in browser.text("#keys-table tr[data-key='cerebras']")
    assert browser.text("#config-files") == "defaults (no config file)"

    def mode() -> str:
        return str(
            httpx.get(seeded.url + "/control/mode", headers=KEY_HEADERS, trust_env=False).json()["mode"]
        )

    assert mode() == "shadow"
    browser.call("click", selector="#mode-live")
    wait_text(browser, "#mode-pill", "live")
    assert mode() == "live"
    assert browser.eval("document.getElementById('mode-live').classList.contains('on')") is True
    browser.call("click", selector="#mode-shadow")
    wait_text(browser, "#mode-pill", "shadow")
    assert mode() == "shadow"


def test_live_traffic_moves_the_numbers(seeded: GatewayThread, browser: Browser) -> None:
    open_view(browser, seeded)
    wait_text(browser, "#kpi-requests", "4")
    body = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "hello"}],
    }
    headers = {
        **KEY_HEADERS,
        "anthropic-version": "2023-06-01",
        "user-agent": "claude-cli/2.1.330 (external, cli)",
    }
    resp = httpx.post(seeded.url + "/v1/messages", json=body, headers=headers, trust_env=False, timeout=10)
    assert resp.status_code == 200, resp.text
    wait_text(browser, "#kpi-requests", "5", timeout=15)  # polling picks it up without a reload


def test_empty_state_tells_a_new_user_what_to_do(gateway: GatewayThread, browser: Browser) -> None:
    open_view(browser, gateway)
    browser.call("wait", selector="#ov-empty")
    text = browser.text("#ov-empty")
    assert "stackbilt-gw claude" in text and "ANTHROPIC_BASE_URL" in text and "stackbilt-gw demo" in text


def test_without_a_token_the_browser_gets_the_401_page(gateway: GatewayThread, browser: Browser) -> None:
    assert browser.goto(gateway.url + "/ui/")["status"] == 401
    assert "stackbilt-gw dashboard --browser" in browser.text("body")
    url = one_time_url(gateway)
    assert browser.goto(url)["status"] == 200
    assert browser.goto(url)["status"] == 401  # the link is spent
    assert "already used" in browser.text("h1")


@pytest.fixture
def foreign_site() -> Iterator[list[str]]:
    """Another web app on this machine (127.0.0.1, another port): same site, other origin."""
    page: list[str] = [""]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            data = page[0].encode()
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    page.append(f"http://127.0.0.1:{server.server_address[1]}/")
    yield page
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_a_foreign_page_cannot_flip_the_mode(
    seeded: GatewayThread, browser: Browser, foreign_site: list[str]
) -> None:
    open_view(browser, seeded, "settings")  # the browser now holds a valid session cookie
    target = seeded.url + "/control/mode"
    foreign_site[0] = f"""<!doctype html><body><form id=f method=post action="{target}" enctype="text/plain">
      <input name='{{"mode":"live","x":"' value='"}}'></form><script>
      fetch("{target}", {{method: "POST", mode: "no-cors", credentials: "include",
        headers: {{"content-type": "text/plain"}}, body: '{{"mode":"live"}}'}})
        .finally(() => {{ document.title = "sent"; document.getElementById("f").submit(); }});
      </script></body>"""
    browser.goto(foreign_site[1])
    # The fetch went out, then the form navigated to the gateway, which refused it.
    browser.wait_for("location.pathname === '/control/mode' && document.readyState === 'complete'")
    # permission_error, not authentication_error: the cookie went along and the CSRF rule refused it.
    assert "permission_error" in browser.text("body")
    mode = httpx.get(target, headers=KEY_HEADERS, trust_env=False).json()["mode"]
    assert mode == "shadow"
