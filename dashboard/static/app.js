// Relia dashboard: plain JS, no build chain. State arrives by server-sent events from the
// dashboard server (never from the backends directly); charts are hand-drawn SVG.
"use strict";

const S = {
  snap: null,          // latest snapshot from the server
  snapAt: 0,           // performance.now() when it arrived (ages tick from there)
  live: "connecting",  // connecting | live | disconnected
  lostAt: null,        // Date.now() when the stream broke
  detail: null,        // {id, data, error, loadedAt}
  filters: { service: "", metric: "", severity: "", status: "" },
  actionFilters: { service: "", outcome: "" },
  toggleError: null,
  toggleBusy: false,
};
let SEV = {};  // severity word -> rank, from the snapshot (relia_contracts.severity)
// The metric catalog's signals, from the snapshot (the anomaly service's catalog): name ->
// {rank, unit, description}. The cards show signals in catalog order, by the name policies use.
let SIGNALS = {};

// ---------- helpers ----------
function esc(v) {
  return String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}
const $ = (sel) => document.querySelector(sel);
const isNum = (v) => typeof v === "number" && Number.isFinite(v);

// Server clock now, advanced locally since the snapshot arrived (ages keep ticking).
function serverNow() {
  if (!S.snap) return Date.now() / 1000;
  return S.snap.server_time + (performance.now() - S.snapAt) / 1000;
}
function fmtAge(sec) {
  if (!isNum(sec)) return "—";
  sec = Math.max(0, sec);
  if (sec < 90) return `${Math.round(sec)} s`;
  if (sec < 5400) return `${Math.round(sec / 60)} min`;
  if (sec < 172800) return `${(sec / 3600).toFixed(1)} h`;
  return `${Math.round(sec / 86400)} d`;
}
function ago(ts) { return isNum(ts) ? `${fmtAge(serverNow() - ts)} ago` : "—"; }
function fmtTime(ts) {
  if (!isNum(ts)) return "—";
  const d = new Date(ts * 1000);
  return d.toLocaleTimeString([], { hour12: false });
}
function fmtDateTime(ts) {
  if (!isNum(ts)) return "—";
  const d = new Date(ts * 1000);
  return `${d.toLocaleDateString()} ${d.toLocaleTimeString([], { hour12: false })}`;
}

// Honest units: ratio as %, seconds as ms/s, bytes as MiB, cores as cores. The unit is the
// value's own, else the catalog's for the metric.
function kindOf(metric, unit) {
  unit = unit || (SIGNALS[metric] || {}).unit;
  if (unit === "ratio") return "ratio";
  if (unit === "seconds" || unit === "s") return "seconds";
  if (unit === "bytes") return "bytes";
  if (unit === "cores") return "cores";
  if (unit === "req/s") return "rate";
  return "plain";
}
function signalRank(metric) { return metric in SIGNALS ? SIGNALS[metric].rank : Infinity; }
function fmtValue(v, metric, unit) {
  if (v === null || v === undefined) return null;
  if (!isNum(v)) return null;
  switch (kindOf(metric, unit)) {
    case "ratio": return `${(v * 100).toFixed(v * 100 >= 10 || v === 0 ? 1 : 2)} %`;
    case "seconds": return Math.abs(v) < 1 ? `${(v * 1000).toFixed(v * 1000 < 10 ? 1 : 0)} ms` : `${v.toFixed(2)} s`;
    case "bytes": return `${(v / 1048576).toFixed(1)} MiB`;
    case "cores": return `${v.toFixed(3)} cores`;
    case "rate": return `${v.toFixed(v < 10 ? 2 : 1)} req/s`;
    default: return `${+v.toPrecision(4)}${unit ? " " + unit : ""}`;
  }
}
function valueHtml(v, metric, unit) {
  const s = fmtValue(v, metric, unit);
  return s === null ? `<span class="nodata" data-testid="no-data">no data</span>` : esc(s);
}
function badge(cls, text, testid) {
  return `<span class="badge ${esc(cls)}"${testid ? ` data-testid="${esc(testid)}"` : ""}>${esc(text)}</span>`;
}
function backend(name) { return S.snap ? S.snap.backends[name] : null; }

// A backend whose data is not current: say so, with the age of what is shown.
function stateNote(name, what) {
  const b = backend(name);
  if (!b) return `<div class="nodata" data-testid="state-${name}" data-state="no_data">Waiting for the first poll…</div>`;
  if (b.status === "ok") return "";
  if (!b.has_data) {
    const msg = b.status === "unreachable" ? `${b.title} unreachable — no ${what} to show.` : `No ${what} yet.`;
    return `<div class="banner" data-testid="state-${name}" data-state="${esc(b.status)}">${esc(msg)}</div>`;
  }
  if (b.status === "no_data") {
    return `<div class="banner" data-testid="state-${name}" data-state="no_data">${esc(b.title)} has no measured ${esc(what)} yet${b.upstream_error ? ` (${esc(b.upstream_error)})` : ""}.</div>`;
  }
  const label = b.status === "unreachable" ? `${b.title} unreachable — showing` : "Stale:";
  return `<div class="banner" data-testid="state-${name}" data-state="${esc(b.status)}">${esc(label)} ${esc(what)} from <span data-age-ts="${esc(b.data_at)}">${esc(ago(b.data_at))}</span>.</div>`;
}

// ---------- SVG charts ----------
function sparkline(points, metric, unit, w = 100, h = 26) {
  const pts = (points || []).filter((p) => isNum(p[1]));
  if (pts.length < 2) return `<span class="nodata small" data-testid="spark-empty">${pts.length ? "1 point so far" : "no history yet"}</span>`;
  const xs = pts.map((p) => p[0]), ys = pts.map((p) => p[1]);
  const x0 = Math.min(...xs), x1 = Math.max(...xs);
  let y0 = Math.min(...ys), y1 = Math.max(...ys);
  if (kindOf(metric, unit) === "ratio") { y0 = Math.min(y0, 0); }
  // Never zoom in below 10 % of the level: tiny noise must not look like big swings.
  const minSpan = Math.max(Math.abs(y0), Math.abs(y1)) * 0.1 || 1e-9;
  if (y1 - y0 < minSpan) { const mid = (y0 + y1) / 2; y0 = mid - minSpan / 2; y1 = mid + minSpan / 2; }
  const sx = (x) => 1 + ((x - x0) / (x1 - x0 || 1)) * (w - 2);
  const sy = (y) => h - 2 - ((y - y0) / (y1 - y0)) * (h - 4);
  const d = pts.map((p, i) => `${i ? "L" : "M"}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join("");
  const title = `${pts.length} points over ${fmtAge(x1 - x0)}; min ${fmtValue(Math.min(...ys), metric, unit)}, max ${fmtValue(Math.max(...ys), metric, unit)}`;
  return `<svg class="spark" data-testid="sparkline" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}"><title>${esc(title)}</title><path d="${d}" fill="none" stroke="#2f5bea" stroke-width="1.5"/></svg>`;
}

function niceTicks(lo, hi, n) {
  const span = hi - lo || 1, step0 = span / n, mag = Math.pow(10, Math.floor(Math.log10(step0)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => span / s <= n) || 10 * mag;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-12 && out.length < 20; v += step) out.push(v);
  return out;
}

// Evidence: value line, baseline line, band (lower..upper), open/resolve and action markers.
function evidenceChart(a, allActions) {
  const actions = allActions.filter((x) => x.outcome !== "skipped");
  const skips = allActions.filter((x) => x.outcome === "skipped" && isNum(x.created_at));
  const ev = a.evidence || {};
  const ts = ev.timestamps || [];
  if (!ts.length) return `<div class="nodata" data-testid="evidence-empty">No evidence series recorded for this anomaly.</div>`;
  const W = 900, H = 260, L = 70, R = 16, T = 14, B = 30;
  const val = ev.values || [], base = ev.baseline || [], lo = ev.lower || [], up = ev.upper || [];
  const ys = [...val, ...base, ...lo, ...up].filter(isNum);
  if (!ys.length) return `<div class="nodata" data-testid="evidence-empty">Evidence has timestamps but no values.</div>`;
  let y0 = Math.min(...ys), y1 = Math.max(...ys);
  if (y1 - y0 < 1e-12) { y0 -= Math.abs(y0) * 0.1 || 1; y1 += Math.abs(y1) * 0.1 || 1; }
  const pad = (y1 - y0) * 0.08; y0 -= pad; y1 += pad;
  if (Math.min(...ys) >= 0 && y0 < 0) y0 = 0;
  let x0 = Math.min(...ts), x1 = Math.max(...ts);
  const marks = [];
  if (isNum(a.opened_at)) marks.push(a.opened_at);
  if (isNum(a.resolved_at)) marks.push(a.resolved_at);
  for (const act of allActions) if (isNum(act.created_at)) marks.push(act.created_at);
  x0 = Math.min(x0, ...marks); x1 = Math.max(x1, ...marks);
  if (x1 - x0 < 1) x1 = x0 + 1;
  const sx = (x) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const sy = (y) => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
  const line = (arr) => {
    let d = "", pen = false;
    arr.forEach((v, i) => { if (isNum(v) && isNum(ts[i])) { d += `${pen ? "L" : "M"}${sx(ts[i]).toFixed(1)},${sy(v).toFixed(1)}`; pen = true; } else pen = false; });
    return d;
  };
  // Band polygon over the points where both bounds exist.
  const idx = ts.map((_, i) => i).filter((i) => isNum(lo[i]) && isNum(up[i]));
  let band = "";
  if (idx.length > 1) {
    band = idx.map((i, k) => `${k ? "L" : "M"}${sx(ts[i]).toFixed(1)},${sy(up[i]).toFixed(1)}`).join("") +
      idx.slice().reverse().map((i) => `L${sx(ts[i]).toFixed(1)},${sy(lo[i]).toFixed(1)}`).join("") + "Z";
  }
  const yt = niceTicks(y0, y1, 5).map((v) => `<line x1="${L}" x2="${W - R}" y1="${sy(v)}" y2="${sy(v)}" stroke="#eef0f3"/><text x="${L - 6}" y="${sy(v) + 4}" text-anchor="end">${esc(fmtValue(v, a.metric, a.unit))}</text>`).join("");
  // Time labels that would be cut by the chart's edges are left out.
  const xt = niceTicks(x0, x1, 6).filter((v) => sx(v) > L + 25 && sx(v) < W - R - 25).map((v) => `<text x="${sx(v)}" y="${H - 10}" text-anchor="middle">${esc(fmtTime(v))}</text>`).join("");
  // Open/resolve: a full-height line with a small flag at the bottom, so both stay visible
  // even when an action marker sits at the same moment.
  const vmark = (x, color, testid, label, dash) => `<g data-testid="${testid}"><line x1="${sx(x)}" x2="${sx(x)}" y1="${T}" y2="${H - B}" stroke="${color}" stroke-width="1.5"${dash ? ' stroke-dasharray="4 3"' : ""}/><polygon points="${sx(x) - 5},${H - B} ${sx(x) + 5},${H - B} ${sx(x)},${H - B - 8}" fill="${color}"/><title>${esc(label)}</title></g>`;
  let markers = "";
  if (isNum(a.opened_at)) markers += vmark(a.opened_at, "#c62828", "marker-open", `opened ${fmtDateTime(a.opened_at)}`, false);
  if (isNum(a.resolved_at)) markers += vmark(a.resolved_at, "#1a7f37", "marker-resolve", `resolved ${fmtDateTime(a.resolved_at)}`, false);
  for (const act of actions) {
    if (!isNum(act.created_at)) continue;
    const x = sx(act.created_at);
    markers += `<g data-testid="marker-action"><line x1="${x}" x2="${x}" y1="${T}" y2="${H - B}" stroke="#8250df" stroke-width="1.5" stroke-dasharray="4 3"/><polygon points="${x - 5},${T} ${x + 5},${T} ${x},${T + 8}" fill="#8250df"/><title>${esc(`${act.action} ${act.outcome}${act.dry_run ? " (dry-run)" : ""} at ${fmtDateTime(act.created_at)}`)}</title></g>`;
  }
  // Guard skips: small grey ticks on the time axis, so they do not bury the real actions.
  for (const sk of skips) {
    const x = sx(sk.created_at);
    markers += `<g data-testid="marker-skip"><rect x="${x - 1.5}" y="${H - B - 10}" width="3" height="10" fill="#98a2b3"/><title>${esc(`${sk.action} skipped (${sk.reason || "guard"}) at ${fmtDateTime(sk.created_at)}`)}</title></g>`;
  }
  return `<svg class="chart" data-testid="evidence-chart" viewBox="0 0 ${W} ${H}" width="100%" preserveAspectRatio="xMidYMid meet">
    ${yt}${xt}
    ${band ? `<path data-testid="band" d="${band}" fill="#2f5bea" fill-opacity="0.12" stroke="none"/>` : ""}
    <path data-testid="baseline-line" d="${line(base)}" fill="none" stroke="#667085" stroke-width="1.2" stroke-dasharray="5 3"/>
    <path data-testid="value-line" d="${line(val)}" fill="none" stroke="#c62828" stroke-width="1.8"/>
    ${markers}
    <line x1="${L}" x2="${L}" y1="${T}" y2="${H - B}" stroke="#c4c9d2"/>
  </svg>
  <div class="legend small"><span><i style="background:#c62828"></i>signal</span><span><i style="background:#667085"></i>baseline</span><span><i style="background:rgba(47,91,234,.2)"></i>normal band</span><span><i style="background:#c62828;width:2px"></i>opened</span><span><i style="background:#1a7f37;width:2px"></i>resolved</span><span><i style="background:#8250df;width:2px"></i>action</span><span><i style="background:#98a2b3;width:3px"></i>skipped by a guard</span></div>`;
}

// ---------- views ----------
function renderHeader() {
  for (const name of ["anomaly", "policy"]) {
    const b = backend(name), el = $(`[data-testid="backend-${name}"]`);
    const title = name === "anomaly" ? "Anomaly service" : "Policy engine";
    if (!b) { el.dataset.state = "no_data"; el.textContent = `${title}: waiting`; continue; }
    el.dataset.state = b.status;
    const word = { ok: "ok", stale: "stale", unreachable: "unreachable", no_data: "no data" }[b.status] || b.status;
    el.textContent = `${title}: ${word}${b.status === "stale" ? ` (${fmtAge(b.age_s)})` : ""}${b.ready === false ? " · not ready" : ""}`;
    el.title = b.error || "";
  }
  const live = $('[data-testid="live-status"]');
  live.dataset.state = S.live;
  live.textContent = S.live === "live" ? "live" : S.live === "disconnected" ? "dashboard server unreachable" : "connecting";
  if (S.snap) {
    const l = S.snap.links;
    $('[data-testid="link-grafana"]').href = l.grafana;
    $('[data-testid="link-jaeger-base"]').href = l.jaeger;
    $('[data-testid="link-prometheus-base"]').href = l.prometheus;
  }
}

function renderBanners() {
  let html = "";
  if (S.live === "disconnected") {
    const since = S.lostAt ? ` since ${fmtAge((Date.now() - S.lostAt) / 1000)}` : "";
    html += `<div class="banner" data-testid="banner-dashboard" data-state="disconnected">Lost the connection to the dashboard server${esc(since)}; retrying. Everything below is from before that.</div>`;
  }
  for (const name of ["anomaly", "policy"]) {
    const b = backend(name);
    if (!b || b.status === "ok") continue;
    let msg;
    if (b.status === "unreachable") {
      msg = `${b.title} unreachable: ${b.error || "no answer"}.` + (b.has_data ? ` Showing data from ${ago(b.data_at)}.` : " No data to show.");
    } else if (b.status === "stale") {
      msg = `${b.title} data is stale: last update ${ago(b.data_at)} (older than ${fmtAge(S.snap.stale_after_s)}).`;
    } else {
      msg = `${b.title}: no data yet${name === "anomaly" ? " (no detection cycle has succeeded)" : ""}.`;
    }
    if (b.upstream_error && b.status !== "unreachable") msg += ` Cause reported: ${b.upstream_error}`;
    html += `<div class="banner" data-testid="banner-${name}" data-state="${esc(b.status)}">${esc(msg)}</div>`;
  }
  $("#banners").innerHTML = html;
}

// Data shown while its backend is unreachable or stale is dimmed (and labelled by stateNote).
function notCurrent(name) {
  const b = backend(name);
  return b && b.status !== "ok" && b.has_data ? " not-current" : "";
}

function openAnomalyCount() {
  const a = S.snap.anomalies;
  if (backend("anomaly").has_data && isNum(a.active_total)) return a.active_total;
  return null;
}

function renderOverview() {
  const snap = S.snap, r = snap.remediation, pb = backend("policy");
  let remed;
  if (!r) {
    remed = `<div class="card wide" data-testid="remediation" data-state="no_data"><h3>Remediation</h3>${stateNote("policy", "remediation status") || '<div class="nodata">no data</div>'}</div>`;
  } else {
    const en = r.enabled === true, known = typeof r.enabled === "boolean";
    const hasErr = Array.isArray(r.policies_error) ? r.policies_error.length > 0 : !!r.policies_error;
    const err = hasErr ? `<div class="error-box small" data-testid="overview-policy-error">Policy file invalid: ${esc(fmtPolicyError(r.policies_error))}</div>` : "";
    const canToggle = known && pb.status !== "unreachable" && !S.toggleBusy;
    remed = `<div class="card wide" data-testid="remediation" data-state="${known ? (en ? "enabled" : "paused") : "unknown"}">
      <div class="row"><h3 style="margin:0">Remediation</h3>
        ${badge(known ? (en ? "st-enabled" : "st-paused") : "st-unknown", known ? (en ? "enabled" : "paused") : "unknown", "remediation-state")}
        ${pb.status !== "ok" ? '<span class="muted small">(last known)</span>' : ""}
        ${r.dry_run ? badge("dry", "dry-run: actions are recorded, not executed", "dry-run-global") : ""}
        <button class="switch" role="switch" data-testid="pause-switch" aria-checked="${en}" ${canToggle ? "" : "disabled"}>
          <span class="knob"></span><span>${pb.status === "unreachable" ? "unavailable: the policy engine is unreachable" : en ? "Remediation on — click to pause" : "Remediation paused — click to resume"}</span></button>
        ${S.toggleError ? `<span class="error-box small" data-testid="toggle-error">${esc(S.toggleError)}</span>` : ""}
      </div>
      ${stateNote("policy", "remediation status")}
      <div class="counts${notCurrent("policy")}" style="margin-top:10px">
        <div class="count"><span class="muted small">open anomalies</span><b data-testid="count-open-anomalies">${openAnomalyCount() ?? '<span class="nodata">no data</span>'}</b></div>
        <div class="count"><span class="muted small">actions, last hour</span><b data-testid="count-actions-hour">${isNum(r.actions_last_hour) ? r.actions_last_hour : '<span class="nodata">no data</span>'}</b></div>
        <div class="count"><span class="muted small">actions, total</span><b data-testid="count-actions-total">${isNum(r.actions_total) ? r.actions_total : '<span class="nodata">no data</span>'}</b></div>
        <div class="count"><span class="muted small">policies</span><b data-testid="count-policies">${isNum(r.policies_count) ? r.policies_count : "—"}</b>
          <span class="small">${r.policies_valid === false ? badge("st-invalid", "file invalid") : r.policies_valid ? badge("st-valid", "file valid") : ""}</span></div>
        <div class="count"><span class="muted small">Docker</span><b class="small">${r.docker_reachable === true ? badge("st-healthy", "reachable") : r.docker_reachable === false ? badge("st-critical", "unreachable") : "—"}</b></div>
      </div>${err}</div>`;
  }
  let svcs = "";
  const ab = backend("anomaly");
  if (!snap.services.length) {
    svcs = `<div class="card wide" data-testid="services-empty" data-state="${esc(ab.status)}">${stateNote("anomaly", "service health") || '<span class="nodata">The anomaly service reports no services yet.</span>'}</div>`;
  } else {
    svcs = snap.services.map((s) => {
      const metrics = Object.keys(s.signals).sort((x, y) => (signalRank(x) - signalRank(y)) || x.localeCompare(y));
      const rows = metrics.map((m) => {
        const g = s.signals[m];
        return `<tr data-testid="signal-${esc(s.service)}-${esc(m)}" data-severity="${esc(g.severity)}"><td title="${esc((SIGNALS[m] || {}).description)}">${esc(m)}</td>
          <td class="num" data-testid="signal-value">${valueHtml(g.value, m, g.unit)}</td>
          <td>${g.severity && !(g.value === null && g.severity === "normal") ? badge(`sev-${g.severity}`, g.severity) : ""}</td>
          <td>${sparkline(g.history, m, g.unit)}</td></tr>`;
      }).join("");
      const rep = isNum(s.replicas_up) && isNum(s.replicas_total) && s.replicas_total > 0 ? `${s.replicas_up}/${s.replicas_total} replicas up` : "replicas: no data";
      return `<div class="card" data-testid="service-card" data-service="${esc(s.service)}" data-status="${esc(s.status)}">
        <div class="row"><h3 style="margin:0">${esc(s.service)}</h3>${badge(`st-${s.status || "unknown"}`, s.status || "unknown", "service-status")}
          <span class="muted small" data-testid="replicas">${esc(rep)}</span>
          <span class="muted small">${isNum(s.open_anomalies) ? `${s.open_anomalies} open anomal${s.open_anomalies === 1 ? "y" : "ies"}` : ""}</span>
          <a class="small" style="margin-left:auto" target="_blank" rel="noopener" data-testid="link-jaeger-service" href="${esc(s.links.jaeger)}">traces</a></div>
        <table class="signals" style="margin-top:6px">${rows || '<tr><td class="nodata">no signals</td></tr>'}</table></div>`;
    }).join("");
    svcs = stateNote("anomaly", "service health") + `<div class="grid${notCurrent("anomaly")}">${svcs}</div>`;
  }
  $("#view-overview").innerHTML = `<div class="grid">${remed}</div><h2 style="margin-top:14px">Services</h2>${svcs}${recentActivity()}`;
}

// The loop at a glance: newest open anomalies and newest actions, each linking to its view.
function recentActivity() {
  const open = S.snap.anomalies.items.filter((a) => a.status === "active").slice(0, 5);
  // Actions that did something; guard skips are only counted here (the Actions view lists them).
  const acts = S.snap.actions.items.filter((x) => x.outcome !== "skipped").slice(0, 5);
  const skipped = S.snap.actions.items.filter((x) => x.outcome === "skipped").length;
  const ab = backend("anomaly"), pb = backend("policy");
  const openRows = open.length ? open.map((a) => `<tr data-testid="overview-anomaly"><td>${badge(`sev-${a.severity}`, a.kind === "no_data" ? "no data" : a.severity)}</td><td><a href="#anomaly/${encodeURIComponent(a.id)}">${esc(a.service)} · ${esc(a.metric)}</a></td><td class="num">${valueHtml(a.value, a.metric, a.unit)}</td><td class="num muted" data-age-ts="${esc(a.opened_at)}">${esc(ago(a.opened_at))}</td></tr>`).join("")
    : `<tr><td class="nodata">${ab.has_data ? "No open anomaly." : "no data"}</td></tr>`;
  const actRows = acts.length ? acts.map((x) => `<tr data-testid="overview-action" title="${esc(x.policy || (x.manual ? "manual" : ""))}"><td>${badge(`oc-${x.outcome}`, x.outcome)}${x.reason ? `<div class="small muted">${esc(x.reason)}</div>` : ""}</td><td><a href="#actions">${esc(x.action)} · ${esc(x.service)}</a>${x.dry_run ? " " + badge("dry", "dry-run") : ""}</td><td class="num muted" data-age-ts="${esc(x.created_at)}">${esc(ago(x.created_at))}</td></tr>`).join("")
    : `<tr><td class="nodata">${pb.has_data ? "No action taken yet." : "no data"}</td></tr>`;
  return `<div class="grid" style="margin-top:14px">
    <div class="card${notCurrent("anomaly")}" data-testid="overview-open-anomalies"><h3>Open anomalies</h3><table>${openRows}</table></div>
    <div class="card${notCurrent("policy")}" data-testid="overview-recent-actions"><h3>Recent actions</h3><table>${actRows}</table>${skipped ? `<p class="muted small" data-testid="overview-skips">${skipped} guard skip${skipped === 1 ? "" : "s"} among the newest records: <a href="#actions">Actions</a>.</p>` : ""}</div></div>`;
}

function fmtPolicyError(e) {
  if (!e) return "";
  if (Array.isArray(e)) return e.map(fmtPolicyError).join("\n");
  if (typeof e === "string") return e;
  const where = [e.file, e.policy ? `policy ${e.policy}` : null, e.field ? `field ${e.field}` : null].filter(Boolean).join(", ");
  return `${where}: ${e.message || JSON.stringify(e)}`;
}

function filteredAnomalies() {
  const f = S.filters;
  return S.snap.anomalies.items.filter((a) =>
    (!f.service || a.service === f.service) && (!f.metric || a.metric === f.metric) &&
    (!f.status || a.status === f.status) &&
    (!f.severity || (SEV[a.peak_severity || a.severity] ?? 0) >= SEV[f.severity]));
}

function fillSelect(sel, values) {
  const cur = sel.value;
  const want = ["", ...values];
  const have = [...sel.options].map((o) => o.value);
  if (want.join("|") !== have.join("|")) {
    sel.innerHTML = want.map((v) => `<option value="${esc(v)}">${esc(v || "all")}</option>`).join("");
    sel.value = want.includes(cur) ? cur : "";
  }
  // Keep the filter state what the select shows (an option may have gone away).
  const key = sel.dataset.filter || sel.dataset.afilter;
  const store = sel.dataset.filter ? S.filters : S.actionFilters;
  if (key && store[key] !== sel.value) store[key] = sel.value;
}

function renderAnomalies() {
  const items = S.snap.anomalies.items;
  // Options: every known service and signal, not only those with anomalies right now.
  const services = [...S.snap.services.map((s) => s.service), ...items.map((a) => a.service)];
  const metrics = [...S.snap.services.flatMap((s) => Object.keys(s.signals)), ...items.map((a) => a.metric)];
  fillSelect($('[data-testid="filter-service"]'), [...new Set(services)].filter(Boolean).sort());
  fillSelect($('[data-testid="filter-metric"]'), [...new Set(metrics)].filter(Boolean).sort());
  const rows = filteredAnomalies();
  let html = stateNote("anomaly", "anomalies");
  if (!items.length) {
    html += backend("anomaly").has_data ? `<div class="card nodata" data-testid="anomalies-empty">No anomalies recorded.</div>` : "";
  } else if (!rows.length) {
    html += `<div class="card nodata" data-testid="anomalies-empty">No anomaly matches these filters.</div>`;
  } else {
    html += `<table class="${notCurrent("anomaly")}" data-testid="anomaly-table"><thead><tr><th>status</th><th>severity</th><th>service</th><th>metric</th><th>value</th><th>baseline (band)</th><th>opened</th><th>duration</th><th>summary</th></tr></thead><tbody>` +
      rows.map((a) => {
        const dur = isNum(a.opened_at) ? (isNum(a.resolved_at) ? a.resolved_at : serverNow()) - a.opened_at : null;
        const band = isNum(a.lower) && isNum(a.upper) ? ` (${fmtValue(a.lower, a.metric, a.unit)} … ${fmtValue(a.upper, a.metric, a.unit)})` : "";
        const sel = S.detail && S.detail.id === a.id ? " selected" : "";
        return `<tr class="clickable${sel}" data-testid="anomaly-row" data-id="${esc(a.id)}" data-status="${esc(a.status)}" data-service="${esc(a.service)}" data-metric="${esc(a.metric)}" data-severity="${esc(a.severity)}">
          <td>${badge(`st-${a.status}`, a.status)}</td>
          <td>${badge(`sev-${a.severity}`, a.kind === "no_data" ? "no data" : a.severity)}${a.peak_severity && a.peak_severity !== a.severity ? ` <span class="small muted">peak ${esc(a.peak_severity)}</span>` : ""}</td>
          <td>${esc(a.service)}</td><td>${esc(a.metric)}</td>
          <td class="num">${valueHtml(a.value, a.metric, a.unit)}</td>
          <td class="num">${a.baseline === null || a.baseline === undefined ? '<span class="nodata">no data</span>' : esc(fmtValue(a.baseline, a.metric, a.unit) + band)}</td>
          <td class="num" title="${esc(fmtDateTime(a.opened_at))}"><span data-age-ts="${esc(a.opened_at)}">${esc(ago(a.opened_at))}</span></td>
          <td class="num">${esc(dur === null ? "—" : fmtAge(dur))}${a.status === "active" ? " so far" : ""}</td>
          <td class="small">${esc(a.summary)}</td></tr>`;
      }).join("") + `</tbody></table>`;
  }
  $("#anomaly-list").innerHTML = html;
  renderDetail();
}

// Consecutive skips of one policy for one reason (and one anomaly) become one row "×N";
// `last_at` is the time of the last record folded in (the oldest when the list is newest first).
function groupSkips(acts) {
  const out = [];
  for (const x of acts) {
    const prev = out[out.length - 1];
    const sameTrigger = ((prev && prev.trigger) || {}).anomaly_id === (x.trigger || {}).anomaly_id;
    if (prev && x.outcome === "skipped" && prev.outcome === "skipped" && prev.reason === x.reason && prev.policy === x.policy && prev.service === x.service && sameTrigger) {
      prev.repeats += 1; prev.last_at = x.created_at; prev.ids.push(x.id);
    } else {
      out.push({ ...x, repeats: 0, last_at: x.created_at, ids: [x.id] });
    }
  }
  return out;
}

// The triage packet (anomaly service GET /anomalies/{id}/triage): cause, impact, changes, next step.
function triageHtml(t, err) {
  if (!t) return `<div class="triage" data-testid="triage" data-state="unavailable"><h3>Triage</h3><div class="nodata">${esc(err || "No triage packet.")}</div></div>`;
  const c = t.suspected_cause || {}, n = t.next_step || {}, im = t.impact || {}, ch = t.changes || {};
  const num = (v) => (isNum(v) ? String(Number(v.toPrecision(3))) : "—");
  const evidence = (c.evidence || []).map((e) => `<li data-testid="triage-evidence">${esc(e.callee)} ${esc(e.callee_state)}: ${esc(e.signal)} ${esc(num(e.value))}, opened first: ${esc(e.opened_first)}</li>`).join("");
  const slo = im.slo || {};
  const impact = im.unavailable ? `unknown (${esc(im.unavailable)})`
    : `${esc(num(im.requests))} requests, ${esc(num(im.failed_requests))} failed in the last ${esc(num(im.window_s))} s`;
  const rows = (ch.items || []).map((x) => `<tr data-testid="triage-change" data-source="${esc(x.source)}"><td>${esc(fmtTime(x.at))}</td><td>${esc(x.source)}</td><td>${esc(x.what)}</td></tr>`).join("")
    || `<tr><td class="nodata">No changes in the last 30 minutes.</td></tr>`;
  const missing = Object.entries(ch.unavailable || {}).map(([k, v]) => `<div class="nodata small" data-testid="triage-unavailable">${esc(k)}: ${esc(v)}</div>`).join("");
  const plan = (n.policy_plan && n.policy_plan.policies) || [];
  const planRows = plan.map((r) => `<li data-testid="triage-plan" data-policy="${esc(r.policy)}">${esc(r.policy)} (${esc(r.action)}): ${esc(r.verdict)}${r.detail ? ` — ${esc(r.detail)}` : ""}</li>`).join("");
  const runbook = n.runbook ? ` · <a target="_blank" rel="noopener" data-testid="triage-runbook" href="${esc(n.runbook)}">runbook</a>` : "";
  return `<div class="triage" data-testid="triage" data-state="ok">
    <h3>Triage</h3>
    <p class="small" data-testid="triage-cause" data-caused-by="${esc((c.caused_by || []).join(","))}"><b>Suspected cause:</b> ${esc(c.summary || "—")}</p>
    ${evidence ? `<ul class="small">${evidence}</ul>` : ""}
    <p class="small" data-testid="triage-impact"><b>Impact:</b> ${impact}; SLO ${slo.crossed ? "crossed" : "not crossed"}${isNum(slo.floor) ? ` (floor ${esc(num(slo.floor))})` : ""}</p>
    <p class="small" data-testid="triage-next-step"><b>Next step:</b> ${esc(n.summary || "—")}; remediation ${esc(n.remediation || "unknown")}${runbook}</p>
    ${planRows ? `<ul class="small">${planRows}</ul>` : (n.plan_unavailable ? `<div class="nodata small">Policy plan: ${esc(n.plan_unavailable)}</div>` : "")}
    <h3 style="margin-top:6px">Changes in the last 30 minutes</h3><table class="small">${rows}</table>${missing}
  </div>`;
}

function renderDetail() {
  const el = $("#anomaly-detail");
  if (!S.detail) { el.innerHTML = ""; return; }
  const d = S.detail;
  if (d.error && !d.data) { el.innerHTML = `<div class="card" data-testid="anomaly-detail" data-state="error"><div class="error-box">${esc(d.error)}</div></div>`; return; }
  if (!d.data) { el.innerHTML = `<div class="card" data-testid="anomaly-detail" data-state="loading"><span class="muted">Loading ${esc(d.id)}…</span></div>`; return; }
  const a = d.data.anomaly, acts = d.data.actions || [], links = d.data.links || {};
  const actRows = acts.length ? groupSkips(acts).map((x) => `<tr data-testid="detail-action"><td>${esc(fmtTime(x.created_at))}${x.repeats ? `–${esc(fmtTime(x.last_at))}` : ""}</td><td>${esc(x.action)}</td><td>${badge(`oc-${x.outcome}`, x.outcome)}${x.dry_run && x.outcome !== "dry_run" ? " " + badge("dry", "dry-run") : ""}</td><td>${x.reason ? esc(x.reason) : ""}${x.repeats ? ` <span class="muted small" data-testid="skip-repeats">×${x.repeats + 1}</span>` : ""}</td><td><a href="#policies/${encodeURIComponent(x.policy || "")}">${esc(x.policy || (x.manual ? "manual" : "—"))}</a></td><td>${badge(`ver-${x.verification}`, `verification: ${x.verification}`)}</td></tr>`).join("")
    : `<tr><td class="nodata">${d.data.actions_error ? esc(d.data.actions_error) : "No action was taken for this anomaly."}</td></tr>`;
  el.innerHTML = `<div class="card" data-testid="anomaly-detail" data-id="${esc(a.id)}" data-state="${esc(a.status)}">
    <div class="row"><h3 style="margin:0">${esc(a.service)} · ${esc(a.metric)}</h3>${badge(`st-${a.status}`, a.status)}${badge(`sev-${a.severity}`, a.severity)}
      <span class="muted small">${esc(a.id)} · fingerprint ${esc(a.fingerprint)} · kind ${esc(a.kind)}</span>
      <span style="margin-left:auto">${links.jaeger ? `<a target="_blank" rel="noopener" data-testid="link-jaeger" href="${esc(links.jaeger)}">Jaeger traces</a>` : ""}
      ${links.prometheus ? ` · <a target="_blank" rel="noopener" data-testid="link-prometheus" href="${esc(links.prometheus)}">Prometheus query</a>` : ""}
      · <a href="#anomalies" data-testid="detail-close">close</a></span></div>
    <p class="small">${esc(a.summary)} — opened ${esc(fmtDateTime(a.opened_at))}${isNum(a.resolved_at) ? `, resolved ${esc(fmtDateTime(a.resolved_at))}` : ", still active"}. Current value ${valueHtml(a.value, a.metric, a.unit)}, baseline ${valueHtml(a.baseline, a.metric, a.unit)}.</p>
    ${d.error ? `<div class="error-box small">Refresh failed: ${esc(d.error)} (showing the copy from ${esc(fmtAge((performance.now() - d.loadedAt) / 1000))} ago)</div>` : ""}
    ${evidenceChart(a, acts)}
    ${triageHtml(d.data.triage, d.data.triage_error)}
    <h3 style="margin-top:10px">Actions taken</h3><table>${actRows}</table></div>`;
}

function renderActions() {
  const all = S.snap.actions.items, f = S.actionFilters;
  fillSelect($('[data-testid="filter-action-service"]'), [...new Set([...S.snap.services.map((x) => x.service), ...all.map((x) => x.service)])].filter(Boolean).sort());
  const items = all.filter((x) => (!f.service || x.service === f.service) &&
    (!f.outcome || (f.outcome === "not_skipped" ? x.outcome !== "skipped" : x.outcome === f.outcome)));
  let html = stateNote("policy", "actions");
  if (!all.length) {
    html += backend("policy").has_data ? `<div class="card nodata" data-testid="actions-empty">No remediation action recorded yet.</div>` : "";
  } else if (!items.length) {
    html += `<div class="card nodata" data-testid="actions-empty">No action matches these filters (among the newest ${all.length}).</div>`;
  } else {
    html += `<table class="timeline${notCurrent("policy")}" data-testid="action-table"><thead><tr><th>when</th><th>action</th><th>service / target</th><th>outcome</th><th>verification</th><th>triggered by</th><th>policy</th><th>detail</th></tr></thead><tbody>` +
      groupSkips(items).map((x) => {
        const t = x.trigger || {};
        const anomaly = t.anomaly_id ? `<a data-testid="action-anomaly-link" href="#anomaly/${encodeURIComponent(t.anomaly_id)}">${esc(t.metric || "anomaly")} ${esc(t.severity || "")}</a> <span class="small muted">${esc(t.anomaly_id)}</span>` : (x.manual ? "manual" : `<span class="muted">${esc(t.alertname || "—")}</span>`);
        const detail = [x.error ? `error: ${x.error}` : null, isNum(x.duration_ms) ? `${Math.round(x.duration_ms)} ms` : null, x.params && Object.keys(x.params).length ? JSON.stringify(x.params) : null].filter(Boolean).join(" · ");
        return `<tr data-testid="action-row" data-id="${esc(x.id)}" data-ids="${esc(x.ids.join(" "))}" data-outcome="${esc(x.outcome)}" data-dry-run="${x.dry_run ? "true" : "false"}">
          <td title="${esc(fmtDateTime(x.created_at))}">${x.repeats ? `${esc(fmtTime(x.last_at))}–` : ""}${esc(fmtTime(x.created_at))}<div class="small muted" data-age-ts="${esc(x.created_at)}">${esc(ago(x.created_at))}</div></td>
          <td>${esc(x.action)}${x.dry_run ? " " + badge("dry", "dry-run", "dry-run-mark") : ""}${x.manual ? " " + badge("st-unknown", "manual") : ""}</td>
          <td>${esc(x.service)}<div class="small muted">${esc(x.target || "")}</div></td>
          <td>${badge(`oc-${x.outcome}`, x.outcome, "action-outcome")}${x.repeats ? ` <span class="muted small" data-testid="skip-repeats">×${x.repeats + 1}</span>` : ""}${x.reason ? `<div class="small muted">${esc(x.reason)}</div>` : ""}</td>
          <td>${badge(`ver-${x.verification}`, x.verification || "—", "action-verification")}</td>
          <td>${anomaly}</td>
          <td>${x.policy ? `<a data-testid="action-policy-link" href="#policies/${encodeURIComponent(x.policy)}">${esc(x.policy)}</a><div class="small muted">${esc(x.policy_version || "")}</div>` : "—"}</td>
          <td class="small">${esc(detail)}</td></tr>`;
      }).join("") + `</tbody></table>` +
      (isNum(S.snap.actions.total) && S.snap.actions.total > all.length ? `<p class="muted small">Showing the newest ${all.length} of ${S.snap.actions.total} actions.</p>` : "");
  }
  $("#action-list").innerHTML = html;
}

// budget_used: {"policy": {used, max, window_s}, "service": {...}} -> "policy 1/3 per 1 h".
function fmtBudget(used) {
  const parts = Object.entries(used || {}).map(([k, u]) => {
    if (u && typeof u === "object" && "used" in u) {
      const win = isNum(u.window_s) ? ` per ${u.window_s % 3600 === 0 ? `${u.window_s / 3600} h` : fmtAge(u.window_s)}` : "";
      return `${k} ${u.used}/${u.max ?? "∞"}${win}`;
    }
    return `${k} ${JSON.stringify(u)}`;
  });
  return parts.length ? parts.join(", ") : "no budget";
}

function renderPolicies(focus) {
  const p = S.snap.policies;
  let html = stateNote("policy", "policies");
  if (!p) { $("#view-policies").innerHTML = html || `<div class="nodata">No data.</div>`; return; }
  const errs = (p.errors && p.errors.length ? p.errors : (p.error ? [p.error] : []));
  html += `<div class="card" data-testid="policy-file-state" data-state="${p.valid ? "valid" : "invalid"}" style="margin-bottom:12px">
    <div class="row"><h3 style="margin:0">Policy file</h3>${badge(p.valid ? "st-valid" : "st-invalid", p.valid ? "valid" : "invalid")}
      <span class="muted small">version ${esc(p.version || "—")}</span></div>
    ${errs.length ? `<div class="error-box small" data-testid="policy-file-error" style="margin-top:8px">${esc(errs.map(fmtPolicyError).join("\n"))}${p.valid === false ? "\nThe last good policies keep running." : ""}</div>` : `<div class="muted small" style="margin-top:6px">No error in the last load.</div>`}</div>`;
  const items = p.items || [];
  if (!items.length) {
    html += `<div class="card nodata" data-testid="policies-empty">No policy loaded.</div>`;
  } else {
    const fetchedAge = serverNow() - (backend("policy").data_at || serverNow());
    html += `<table class="${notCurrent("policy")}" data-testid="policy-table"><thead><tr><th>policy</th><th>enabled</th><th>condition</th><th>action</th><th>service</th><th>cooldown</th><th>cooldown remaining</th><th>budget used</th><th>mode / breaker</th></tr></thead><tbody>` +
      items.map((x) => {
        const rem = isNum(x.cooldown_remaining_s) ? Math.max(0, x.cooldown_remaining_s - fetchedAge) : null;
        const sel = focus && focus === x.name ? " selected" : "";
        return `<tr class="${sel}" data-testid="policy-row" data-name="${esc(x.name)}" data-enabled="${x.enabled ? "true" : "false"}">
          <td><b>${esc(x.name)}</b></td>
          <td>${badge(x.enabled ? "st-enabled" : "st-disabled", x.enabled ? "enabled" : "disabled")}</td>
          <td><code>${esc(x.condition)}</code>${x.for ? `<div class="small muted">for ${esc(x.for)}${isNum(x.for) ? " s" : ""}</div>` : ""}</td>
          <td>${esc(x.action)}${x.params && Object.keys(x.params).length ? `<div class="small muted">${esc(JSON.stringify(x.params))}</div>` : ""}</td>
          <td>${esc(x.service)}</td>
          <td class="num">${isNum(x.cooldown) ? `${x.cooldown} s` : "—"}</td>
          <td class="num" data-testid="cooldown-remaining">${rem === null ? '<span class="nodata">no data</span>' : rem > 0 ? `${Math.ceil(rem)} s` : "ready"}</td>
          <td class="small" data-testid="budget-used">${esc(fmtBudget(x.budget_used))}</td>
          <td>${x.dry_run ? badge("dry", "dry-run") : ""}${x.breaker && x.breaker.state && x.breaker.state !== "closed" ? " " + badge("st-critical", `breaker ${x.breaker.state}`, "breaker") : ""}</td></tr>`;
      }).join("") + `</tbody></table>`;
  }
  $("#view-policies").innerHTML = html;
}

// ---------- routing ----------
function route() {
  let h = location.hash.replace(/^#/, "");
  try { h = decodeURIComponent(h); } catch (e) { /* a malformed hash: use it as it is */ }
  h = h || "overview";
  const [name, ...rest] = h.split("/");
  const arg = rest.join("/");
  if (name === "anomaly" && arg) return { view: "anomalies", anomaly: arg };
  if (name === "policies") return { view: "policies", policy: arg || null };
  return { view: ["overview", "anomalies", "actions", "policies"].includes(name) ? name : "overview" };
}

function render() {
  const r = route();
  renderHeader();
  renderBanners();
  for (const v of ["overview", "anomalies", "actions", "policies"]) {
    $(`#view-${v}`).hidden = v !== r.view;
    $(`[data-testid="nav-${v}"]`).classList.toggle("active", v === r.view);
  }
  if (!S.snap) return;
  if (r.view === "overview") renderOverview();
  else if (r.view === "anomalies") renderAnomalies();
  else if (r.view === "actions") renderActions();
  else renderPolicies(r.policy);
  renderFooter();
}

function renderFooter() {
  if (!S.snap) return;
  $("footer").textContent = `Polling every ${S.snap.poll_interval_s} s; data older than ${S.snap.stale_after_s} s is marked stale. Last update from the server ${fmtAge((performance.now() - S.snapAt) / 1000)} ago.`;
}

async function loadDetail(id) {
  if (!S.detail || S.detail.id !== id) S.detail = { id, data: null, error: null, loadedAt: 0 };
  try {
    const res = await fetch(`/api/anomalies/${encodeURIComponent(id)}`);
    const body = await res.json().catch(() => ({}));
    if (!S.detail || S.detail.id !== id) return;
    if (!res.ok) { S.detail.error = body.detail || `HTTP ${res.status}`; }
    else { S.detail.data = body; S.detail.error = null; S.detail.loadedAt = performance.now(); }
  } catch (e) {
    if (S.detail && S.detail.id === id) S.detail.error = `dashboard server unreachable (${e.message})`;
  }
  if (route().view === "anomalies") renderAnomalies();
}

function onRoute() {
  const r = route();
  if (r.anomaly) loadDetail(r.anomaly); else S.detail = null;
  render();
}

// ---------- live updates ----------
function applySnapshot(snap) {
  const hadDetail = S.detail;
  S.snap = snap; S.snapAt = performance.now();
  SEV = Object.fromEntries((snap.severities || []).map((word, rank) => [word, rank]));
  SIGNALS = Object.fromEntries((snap.catalog || []).map((sig, rank) => [sig.name, { ...sig, rank }]));
  S.live = "live"; S.lostAt = null;
  render();
  // Keep an open evidence chart current while its anomaly is on screen.
  if (hadDetail && route().anomaly === hadDetail.id) loadDetail(hadDetail.id);
}

function connect() {
  const es = new EventSource("/api/events");
  es.addEventListener("snapshot", (e) => applySnapshot(JSON.parse(e.data)));
  es.addEventListener("heartbeat", (e) => {
    const hb = JSON.parse(e.data);
    if (!S.snap) return;
    S.snap.backends = hb.backends; S.snap.server_time = hb.server_time; S.snapAt = performance.now();
    S.live = "live"; S.lostAt = null;
    renderHeader(); renderBanners();
  });
  es.onopen = () => { if (S.live !== "live") { S.live = "live"; renderHeader(); renderBanners(); } };
  es.onerror = () => {
    if (S.live !== "disconnected") { S.live = "disconnected"; S.lostAt = Date.now(); }
    renderHeader(); renderBanners();
  };
}

async function toggle(enable) {
  S.toggleBusy = true; S.toggleError = null; render();
  try {
    const res = await fetch("/api/toggle", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ enabled: enable }) });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) S.toggleError = `Could not ${enable ? "resume" : "pause"}: ${body.detail || "HTTP " + res.status}`;
    else if (S.snap && S.snap.remediation) S.snap.remediation.enabled = body.enabled;
  } catch (e) {
    S.toggleError = `Could not reach the dashboard server: ${e.message}`;
  }
  S.toggleBusy = false; render();
}

document.addEventListener("click", (e) => {
  const sw = e.target.closest('[data-testid="pause-switch"]');
  if (sw && !sw.disabled) { toggle(sw.getAttribute("aria-checked") !== "true"); return; }
  const row = e.target.closest('tr[data-testid="anomaly-row"]');
  if (row && !e.target.closest("a")) location.hash = `#anomaly/${encodeURIComponent(row.dataset.id)}`;
});
document.addEventListener("change", (e) => {
  const f = e.target.dataset && e.target.dataset.filter;
  if (f) { S.filters[f] = e.target.value; if (S.snap) renderAnomalies(); }
  const af = e.target.dataset && e.target.dataset.afilter;
  if (af) { S.actionFilters[af] = e.target.value; if (S.snap) renderActions(); }
});
window.addEventListener("hashchange", onRoute);
// Ages tick every second without a round trip.
setInterval(() => {
  for (const el of document.querySelectorAll("[data-age-ts]")) el.textContent = ago(parseFloat(el.dataset.ageTs));
  if (S.snap) { renderHeader(); renderBanners(); renderFooter(); }
}, 1000);

async function start() {
  render();
  try {
    const res = await fetch("/api/snapshot");
    if (res.ok && !S.snap) applySnapshot(await res.json());
  } catch (e) { /* the event stream reports the outage */ }
  onRoute();
  connect();
}
start();
