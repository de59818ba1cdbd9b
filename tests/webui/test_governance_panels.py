"""The Governance view in a real headless Chromium against the real gateway with budgets: a
``block`` budget used up (its refusal listed), a ``degrade`` budget used up, and a ``warn`` total
running out today with its forecast line; refusals by rule and spend by client id. Checked in the
DOM against the gateway's own answers, plus a screenshot artifact."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from PIL import Image

from stackbilt_gateway.daemon.core.config import BudgetSettings, BudgetsSettings, ClientSettings, Config
from stackbilt_gateway.daemon.simulator.upstream import FakeUpstream
from stackbilt_gateway.daemon.telemetry.events import GatewayRequestEvent
from stackbilt_gateway.daemon.telemetry.store import insert_events, open_db
from tests.e2e.conftest import upstream_env, wait_events
from tests.fakes.gateway import GatewayThread
from tests.governance.conftest import new_client
from tests.governance.test_http import messages
from tests.webui.browser import Browser
from tests.webui.conftest import KEY_HEADERS
from tests.webui.test_dashboard_browser import open_view, wait_text

pytestmark = pytest.mark.e2e
SEEDED_USD = 1.00  # spent today by the default client before the gateway started
TOTAL_DAILY = 1.05  # the warn total: a little left, so it runs out within minutes at this rate


def _hm(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%H:%M")


@pytest.fixture
def governed(fake_upstream: FakeUpstream, database: Path) -> Iterator[GatewayThread]:
    database.parent.mkdir(parents=True, exist_ok=True)
    conn = open_db(database)
    try:
        # Spent 10 minutes ago (the budgets are seeded from the database when the gateway starts).
        insert_events(
            conn, [GatewayRequestEvent(ts=time.time() - 600, client_id="local", cost_usd=SEEDED_USD)]
        )
    finally:
        conn.close()
    config = Config(
        clients={
            "team": ClientSettings(budget_daily_usd=0.000001, budget_action="block"),
            "bulk": ClientSettings(budget_daily_usd=0.000001, budget_action="degrade"),
        },
        budgets=BudgetsSettings(total=BudgetSettings(daily_usd=TOTAL_DAILY, action="warn")),
    )
    fake_upstream.reset()
    gw = GatewayThread(env=upstream_env(fake_upstream), config=config).start()
    yield gw
    gw.stop()


def test_budgets_forecast_refusals_and_spend_by_client(
    governed: GatewayThread, fake_upstream: FakeUpstream, browser: Browser, tmp_path: Path
) -> None:
    team, bulk = new_client("team"), new_client("bulk")
    assert messages(governed.url, team).status_code == 200  # spends more than its budget
    refused = messages(governed.url, team)
    assert refused.status_code == 402
    assert messages(governed.url, bulk).status_code == 200
    assert messages(governed.url, bulk).status_code == 200  # degraded, still served
    assert len(fake_upstream.calls("/v1/messages")) == 3  # nothing went upstream for the refusal
    wait_events(governed, 4)

    gov = httpx.get(governed.url + "/governance", headers=KEY_HEADERS, timeout=10).json()
    budgets = {f"{b['scope']}:{b['key']}:{b['period']}": b for b in gov["budgets"]}
    assert set(budgets) == {"client:team:daily", "client:bulk:daily", "total:total:daily"}
    total = budgets["total:total:daily"]
    assert not total["exceeded"] and total["runs_out_at"] is not None, total

    open_view(browser, governed, "governance")
    # The forecast of the warn total, at the time the gateway computes.
    row = "#gov-budgets tr[data-budget='total:total:daily']"
    forecast = browser.text(row + " .forecast")
    assert forecast.startswith("at this rate the daily budget runs out at "), forecast
    shown = forecast.rsplit(" ", 1)[1]
    # The page polls: the minute may have moved on between our read and the page's.
    later = httpx.get(governed.url + "/governance", headers=KEY_HEADERS, timeout=10).json()
    (now_total,) = [b for b in later["budgets"] if b["scope"] == "total"]
    assert shown in {_hm(total["runs_out_at"]), _hm(now_total["runs_out_at"])}
    cells = browser.texts(row + " td")
    assert cells[0] == "Total · daily" and cells[1] == "warn"
    assert cells[2].endswith(f"of ${TOTAL_DAILY:.2f}") and cells[3].endswith("/h")
    assert float(cells[3].lstrip("$").removesuffix("/h")) >= SEEDED_USD  # spent within the hour
    # The used-up block and degrade budgets say so, and what happens now.
    team_row = "#gov-budgets tr[data-budget='client:team:daily']"
    assert browser.text(team_row + " .forecast").startswith("used up — refuses requests until it resets at ")
    assert browser.texts(team_row + " td")[1] == "block"
    assert browser.eval(f"document.querySelector(\"{team_row}\").classList.contains('over')") is True
    bulk_row = "#gov-budgets tr[data-budget='client:bulk:daily']"
    assert browser.text(bulk_row + " .forecast").startswith("used up — serves from the cheaper tier")
    assert browser.text("#gov-budget-count") == "3"
    assert browser.text("#gov-budget-sub").startswith("2 used up · 1 running out")

    # The refusal: counted by rule, listed with its client id and reason.
    wait_text(browser, "#gov-refused", "1")
    assert browser.texts("#gov-rules tr[data-rule='budget.client.daily'] td") == ["budget.client.daily", "1"]
    (event,) = [e for e in wait_events(governed, 4) if e["status"] == "refused"]
    refusal = browser.texts(f"#gov-refusals tr[data-id='{event['id']}'] td")
    assert refusal[1] == "team" and refusal[2] == "budget.client.daily"
    assert "the daily budget of client 'team'" in refusal[3] and "resets at" in refusal[3]

    # Spend by client id, as /metrics groups it.
    metrics = httpx.get(
        governed.url + "/metrics", params={"since": "today", "by": "client_id"}, headers=KEY_HEADERS
    ).json()
    by_id = {r["key"]: r for r in metrics["by_client_id"]}
    assert set(by_id) == {"local", "team", "bulk"}
    team_cells = browser.texts("#gov-clients tr[data-client='team'] td")
    assert team_cells[0] == "team" and team_cells[1] == "2" and team_cells[4] == "1"
    assert browser.texts("#gov-clients tr[data-client='local'] td")[3] == "$1.00"
    assert browser.texts("#gov-clients tr[data-client='bulk'] td")[1] == "2"

    shot = tmp_path / "governance.png"
    browser.call("screenshot", path=str(shot))
    print(f"\ngovernance screenshot: {shot}")
    box = browser.call("box", selector="#gov-budgets")
    with Image.open(shot) as img:
        crop = img.convert("RGB").crop(
            (int(box["x"]), int(box["y"]), int(box["x"] + box["width"]), int(box["y"] + box["height"]))
        )
        raw = crop.tobytes()
    pixels = [tuple(raw[i : i + 3]) for i in range(0, len(raw), 3)]
    # The used-up budgets' red meters and forecast lines are on screen (--neg: #d6455d).
    assert (
        sum(1 for p in pixels if abs(p[0] - 214) < 20 and abs(p[1] - 69) < 20 and abs(p[2] - 93) < 20) > 100
    )
    assert browser.call("consoleErrors") == []


def test_no_budgets_and_no_refusals_say_so(gateway: GatewayThread, browser: Browser) -> None:
    open_view(browser, gateway, "governance")
    assert browser.text("#gov-budgets tbody") == "No budgets configured."
    assert browser.text("#gov-budget-sub") == "none configured"
    assert browser.text("#gov-refusals tbody") == "None in this range."
    assert browser.text("#gov-refused-sub") == "no request refused in this range"
    assert browser.call("consoleErrors") == []
