// Providers: key configured or not, circuit-breaker state, latency, error rate and failed
// attempts (fallbacks) per provider.
import { get } from "../api.js";
import { esc, ms, num, pct, time, usd } from "../fmt.js";

export const title = "Providers";

export function skeleton() {
  return `
  <div class="card"><h3>Provider health</h3>
    <table class="table" id="prov-table"><thead><tr><th>Provider</th><th>Key</th><th>Breaker</th><th class="r">Requests</th>
    <th class="r">Error rate</th><th class="r">Failed attempts</th><th class="r">Latency p50 / p95</th><th class="r">Spend</th></tr></thead>
    <tbody></tbody></table>
    <p class="muted small">Breakers open after repeated upstream failures; live mode then skips the provider and falls back to the next candidate until it recovers.
    Failed attempts count tries that failed and were retried elsewhere.</p></div>
  <div class="card"><h3>Last errors</h3><ul id="prov-errors" class="plain"></ul></div>`;
}

const BREAKER = { closed: ["ok", "closed"], open: ["bad", "open"], half_open: ["warn", "half-open"] };

export async function update(root, ctx) {
  const [board, stats] = await Promise.all([get("/providers"), get("/ui/api/providers", { since: ctx.since })]);
  const names = Object.keys(board.providers);
  for (const name of Object.keys(stats.stats)) if (!names.includes(name)) names.push(name);
  const used = (n) => stats.stats[n]?.requests || stats.stats[n]?.failed_attempts || 0;
  names.sort((a, b) => used(b) - used(a) || a.localeCompare(b));
  const rows = names.map((name) => {
    const p = board.providers[name] || { display_name: name, configured: false, breaker: { state: "closed" } };
    const s = stats.stats[name] || { requests: 0, failed_attempts: 0, latency_ms: {}, cost_usd: 0 };
    const br = p.breaker || { state: "closed" };
    const [cls, label] = BREAKER[br.state] || ["warn", br.state];
    const health = !p.configured ? `<span class="dot off"></span>not configured` : `<span class="dot ${cls}"></span>${label}`;
    return `<tr data-provider="${esc(name)}" class="${used(name) ? "" : "dim"}"><td><b>${esc(p.display_name)}</b> <span class="muted small">${esc(name)}</span></td>
      <td>${p.configured ? '<span class="yes">present</span>' : '<span class="muted">missing</span>'}</td>
      <td class="breaker nowrap">${health}${br.failures ? ` <span class="small muted">${br.failures} fails</span>` : ""}</td>
      <td class="r">${num(s.requests)}</td><td class="r ${s.error_rate > 0 ? "neg" : ""}">${pct(s.error_rate)}</td>
      <td class="r">${num(s.failed_attempts)}</td>
      <td class="r nowrap">${ms(s.latency_ms?.p50)} / ${ms(s.latency_ms?.p95)}</td><td class="r">${usd(s.cost_usd)}</td></tr>`;
  });
  root.querySelector("#prov-table tbody").innerHTML = rows.join("");
  const errors = Object.entries(stats.stats)
    .filter(([, s]) => s.last_error)
    .map(([n, s]) => `<li><b>${esc(n)}</b> <span class="muted">${time(s.last_error.ts)}</span> <code>${esc(s.last_error.class || "error")}</code> ${esc(s.last_error.message || "")}</li>`);
  root.querySelector("#prov-errors").innerHTML = errors.join("") || `<li class="muted">No upstream errors in this range.</li>`;
}
