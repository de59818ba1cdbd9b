// Formatting helpers shared by the views: money, tokens, times, HTML escaping.

export function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

// USD with enough digits for sub-cent amounts; negatives get a real minus sign.
export function usd(value) {
  if (value === null || value === undefined) return "—";
  const v = Number(value);
  const abs = Math.abs(v);
  const digits = abs === 0 ? 2 : abs < 0.01 ? 4 : abs < 100 ? 2 : 0;
  const text = abs.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
  return (v < 0 ? "−$" : "$") + text;
}

export function signedUsd(value) {
  const v = Number(value || 0);
  return (v > 0 ? "+" : "") + usd(v);
}

export function num(value) {
  return Number(value || 0).toLocaleString("en-US");
}

// 1234 -> 1.2k, 3400000 -> 3.4M
export function tokens(value) {
  const v = Number(value || 0);
  if (Math.abs(v) >= 1e9) return (v / 1e9).toFixed(1) + "B";
  if (Math.abs(v) >= 1e6) return (v / 1e6).toFixed(1) + "M";
  if (Math.abs(v) >= 1e4) return (v / 1e3).toFixed(0) + "k";
  if (Math.abs(v) >= 1e3) return (v / 1e3).toFixed(1) + "k";
  return String(v);
}

export function pct(value) {
  if (value === null || value === undefined) return "—";
  return (Number(value) * 100).toFixed(Number(value) < 0.1 && Number(value) > 0 ? 1 : 0) + "%";
}

export function ms(value) {
  if (value === null || value === undefined) return "—";
  const v = Number(value);
  return v >= 1000 ? (v / 1000).toFixed(2) + " s" : Math.round(v) + " ms";
}

export function time(ts) {
  const d = new Date(ts * 1000);
  const today = new Date();
  const hm = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
  return d.toDateString() === today.toDateString() ? hm : d.toLocaleDateString([], { month: "short", day: "numeric" }) + " " + hm;
}

// A moment as the clock shows it: "16:40" today, "Dec 5 16:40" on another day.
export function clock(ts) {
  if (ts === null || ts === undefined) return "—";
  const d = new Date(ts * 1000);
  const hm = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  return d.toDateString() === new Date().toDateString() ? hm : d.toLocaleDateString("en-US", { month: "short", day: "numeric" }) + " " + hm;
}

export function model(provider, name) {
  if (!provider) return "—";
  return name ? `${provider}/${name}` : provider;
}

// Apply data-w="0.42" widths after an innerHTML render (the CSP forbids inline style attributes).
export function applyWidths(root) {
  root.querySelectorAll("[data-w]").forEach((el) => {
    el.style.width = Math.max(0, Math.min(1, Number(el.dataset.w))) * 100 + "%";
  });
}
