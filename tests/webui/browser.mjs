// A tiny JSON-lines RPC over stdin/stdout that drives Debian's Chromium with playwright-core, so
// pytest can script a real browser step by step (tests/webui/browser.py is the other end).
// Every operation is bounded by a timeout. Requires WEBUI_DIR (where playwright-core is installed:
// `npm ci --prefix webui`) and CHROMIUM (default /usr/bin/chromium).
import { createRequire } from "node:module";
import { join } from "node:path";
import { createInterface } from "node:readline";

const require = createRequire(join(process.env.WEBUI_DIR, "package.json"));
const { chromium } = require("playwright-core");
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const TIMEOUT = Number(process.env.BROWSER_OP_TIMEOUT_MS || 10000);

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: FLAGS, timeout: 30000 });
const context = await browser.newContext({ viewport: { width: 1100, height: 760 } });
context.setDefaultTimeout(TIMEOUT);
const page = await context.newPage();
const consoleErrors = [];
page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
page.on("pageerror", (e) => consoleErrors.push(String(e)));

const OPS = {
  goto: async ({ url }) => { const r = await page.goto(url, { waitUntil: "load" }); return { status: r ? r.status() : null, url: page.url() }; },
  url: async () => page.url(),
  content: async () => page.content(),
  text: async ({ selector }) => (await page.locator(selector).first().textContent())?.trim() ?? null,
  texts: async ({ selector }) => (await page.locator(selector).allTextContents()).map((t) => t.trim()),
  count: async ({ selector }) => page.locator(selector).count(),
  click: async ({ selector }) => { await page.locator(selector).first().click(); return true; },
  select: async ({ selector, value }) => page.locator(selector).selectOption(value),
  wait: async ({ selector, state = "visible" }) => { await page.locator(selector).first().waitFor({ state }); return true; },
  // Polls page.evaluate (CDP, not subject to the page's CSP, unlike waitForFunction's eval).
  waitFor: async ({ expression, ms }) => {
    const deadline = Date.now() + (ms || TIMEOUT);
    for (;;) {
      // A navigation can destroy the context mid-evaluation: that is "not yet", not a failure.
      if (await page.evaluate(expression).catch(() => false)) return true;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${expression}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  },
  eval: async ({ expression }) => page.evaluate(expression),
  screenshot: async ({ path, selector }) => {
    if (selector) await page.locator(selector).screenshot({ path }); else await page.screenshot({ path });
    return path;
  },
  box: async ({ selector }) => page.locator(selector).first().boundingBox(),
  consoleErrors: async () => consoleErrors.splice(0),
  cookies: async () => (await context.cookies()).map((c) => ({ name: c.name, httpOnly: c.httpOnly, sameSite: c.sameSite })),
};

const rl = createInterface({ input: process.stdin });
process.stdout.write(JSON.stringify({ ready: true, version: browser.version() }) + "\n");
for await (const line of rl) {
  if (!line.trim()) continue;
  const { id, op, args } = JSON.parse(line);
  if (op === "close") break;
  try {
    const result = await OPS[op](args || {});
    process.stdout.write(JSON.stringify({ id, ok: true, result }) + "\n");
  } catch (err) {
    process.stdout.write(JSON.stringify({ id, ok: false, error: String(err && err.message || err) }) + "\n");
  }
}
await browser.close();
