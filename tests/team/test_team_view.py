"""The dashboard's Team view in a real headless Chromium: two developers' daemons ship to the
real PostgreSQL ledger and the view (opened on one of them) shows both, with a screenshot; with
the ledger off it says which setting turns it on instead of failing."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.team.conftest import Developer, wait_until
from tests.team.pgserver import PASSWORD
from tests.team.test_ledger import shipped
from tests.webui.browser import Browser

pytestmark = pytest.mark.e2e

Make = Callable[..., Developer]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    b = Browser()
    yield b
    b.close()


def open_team(browser: Browser, dev: Developer) -> None:
    resp = httpx.post(dev.url + "/control/session", headers={"x-api-key": dev.key}, json={}, timeout=10)
    resp.raise_for_status()
    browser.call("consoleErrors")  # forget the last page's (its gateway has stopped since)
    assert browser.goto(dev.url + resp.json()["url"])["url"] == dev.url + "/ui/"
    browser.wait_for("document.body.dataset.ready === 'overview'")
    browser.call("click", selector=".sidebar a[data-view='team']")
    browser.wait_for("document.body.dataset.ready === 'team'", 20)


def test_team_view_shows_both_developers(
    developers: Make, ledger_url: str, browser: Browser, tmp_path: Path
) -> None:
    alice, bob = developers("alice").start(), developers("bob").start()
    for _ in range(2):
        alice.request()
    for _ in range(3):
        bob.request()
    wait_until(lambda: len(alice.local_ids()) == 2 and len(bob.local_ids()) == 3, 20, "local events")
    wait_until(lambda: shipped(alice, ledger_url) and shipped(bob, ledger_url), 30, "both shipped")

    open_team(browser, alice)
    browser.call("click", selector=".range button[data-since='7d']")
    browser.wait_for("document.querySelector('#team-requests').textContent.trim() === '5'", 15)
    users = browser.texts("#team-users-table tbody tr td:first-child")
    assert set(users) == {"alice", "bob"}
    assert browser.texts("#team-users-table tr[data-user='bob'] td")[1] == "3"
    assert browser.texts("#team-users-table tr[data-user='alice'] td")[1] == "2"
    assert browser.text("#team-users") == "2"
    assert browser.text("#team-spend-sub").startswith("projected ") and " · realised " in browser.text(
        "#team-spend-sub"
    )
    assert "claude-haiku-4-5" in " ".join(browser.texts("#team-routes td"))
    assert "alice@" in browser.text("#team-ledger")
    assert browser.eval("document.getElementById('team-off').hidden") is True
    shot = tmp_path / "team.png"
    browser.call("screenshot", path=str(shot))
    print(f"\nteam screenshot: {shot}")
    with Image.open(shot) as img:
        assert img.size == (1100, 760)
        colors = img.convert("RGB").getcolors(maxcolors=1 << 20)
        assert colors is not None and len(colors) > 50  # a rendered page, not a blank one
    page = browser.call("content")
    assert PASSWORD not in page and "sgw-" not in json.dumps(browser.call("cookies"))
    assert browser.call("consoleErrors") == []
    browser.goto("about:blank")


def test_team_view_with_the_ledger_off(developers: Make, browser: Browser) -> None:
    dave = developers("dave", {}).start()
    open_team(browser, dave)
    assert browser.eval("document.getElementById('team-off').hidden") is False
    assert "telemetry.postgres_url" in browser.text("#team-off-text")
    assert browser.call("consoleErrors") == []
    browser.goto("about:blank")  # no polling connection left to hold the daemon's shutdown
