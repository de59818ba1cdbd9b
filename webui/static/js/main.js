// The dashboard shell: hash routing between views, the time range, the mode pill, the demo
// banner, and polling (every POLL_MS while the page is visible) so live traffic moves the numbers.
import { get, isLost, SessionLost } from "./api.js";
import { forget } from "./charts.js";
import * as overview from "./views/overview.js";
import * as routes from "./views/routes.js";
import * as providers from "./views/providers.js";
import * as events from "./views/events.js";
import * as settings from "./views/settings.js";
import * as team from "./views/team.js";
import * as governance from "./views/governance.js";
import * as backtest from "./views/backtest.js";

const VIEWS = { overview, routes, providers, events, backtest, governance, team, settings };
const POLL_MS = 3000;
const ctx = { since: localStorage.getItem("sgw.since") || "today", mode: null, demo: false, view: null };
const root = document.getElementById("view");
let busy = false;
// A refresh asked for while one was running (a filter change, a view switch): run it after.
let again = null;

function currentName() {
  const name = location.hash.replace(/^#/, "").split("/")[0];
  return VIEWS[name] ? name : "overview";
}

async function header() {
  const health = await fetch("/health", { credentials: "same-origin" }).then((r) => r.json());
  ctx.mode = health.mode;
  ctx.demo = Boolean(health.demo);
  const pill = document.getElementById("mode-pill");
  pill.textContent = health.mode;
  pill.className = `pill ${health.mode}${health.degraded ? " degraded" : ""}`;
  pill.title = health.degraded ? "a provider's circuit breaker is open" : "";
  document.getElementById("demo-banner").hidden = !ctx.demo;
  document.body.classList.toggle("demo", ctx.demo);
}

async function tick(first = false) {
  if (isLost()) return;
  if (busy) {
    again = { first: first || Boolean(again?.first) };
    return;
  }
  busy = true;
  const name = ctx.view;
  try {
    await header();
    await VIEWS[name].update(root, ctx, first);
    document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
    if (name === ctx.view) document.body.dataset.ready = name; // tests wait on this
  } catch (err) {
    // An update of a view the user already left may fail on its removed elements: ignore it.
    if (!(err instanceof SessionLost) && name === ctx.view) {
      document.getElementById("updated").textContent = "update failed";
      console.error(err);
    }
  } finally {
    busy = false;
    if (again) {
      const next = again;
      again = null;
      tick(next.first);
    }
  }
}

function show() {
  const name = currentName();
  if (name === ctx.view && root.childElementCount) return tick();
  ctx.view = name;
  forget();
  delete document.body.dataset.ready;
  document.querySelectorAll(".sidebar a").forEach((a) => a.classList.toggle("on", a.dataset.view === name));
  document.getElementById("view-title").textContent = VIEWS[name].title;
  document.querySelector(".range").hidden = VIEWS[name].ranged === false;
  root.innerHTML = VIEWS[name].skeleton();
  return tick(true);
}

document.querySelectorAll(".range button").forEach((btn) => {
  btn.classList.toggle("on", btn.dataset.since === ctx.since);
  btn.addEventListener("click", () => {
    ctx.since = btn.dataset.since;
    localStorage.setItem("sgw.since", ctx.since);
    document.querySelectorAll(".range button").forEach((b) => b.classList.toggle("on", b === btn));
    tick();
  });
});

window.addEventListener("hashchange", show);
root.addEventListener("dashboard:refresh", () => tick());
setInterval(() => {
  if (!document.hidden) tick();
}, POLL_MS);
show();
