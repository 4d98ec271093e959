"use strict";
// Operator feedback (noise / confirmed), per-signal precision, series sensitivity and the
// breaker reset. Its own panels beside app.js's views: app.js re-renders those wholesale.
(() => {
  const F = { state: null, breakers: null, busy: false, msg: null, error: null, timer: null };
  const $ = (sel) => document.querySelector(sel);
  const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  const when = (ts) => (typeof ts === "number" ? new Date(ts * 1000).toLocaleString() : "—");
  const pct = (p) => (typeof p === "number" ? `${Math.round(p * 100)}%` : "—");

  function where() {
    let h = location.hash.replace(/^#/, "");
    try { h = decodeURIComponent(h); } catch (e) { /* as it is */ }
    const [name, ...rest] = h.split("/");
    return { name: name || "overview", arg: rest.join("/") };
  }

  async function send(method, url, body) {
    F.busy = true; F.error = null; F.msg = null; render();
    try {
      const res = await fetch(url, { method, headers: { "Content-Type": "application/json" }, body: body ? JSON.stringify(body) : undefined });
      const answer = await res.json().catch(() => ({}));
      if (!res.ok) {
        const d = answer.detail;
        F.error = typeof d === "string" ? d : (Array.isArray(d) ? d.map((x) => `${(x.loc || []).slice(1).join(".")}: ${x.msg}`).join("; ") : `HTTP ${res.status}`);
      }
      return res.ok ? answer : null;
    } catch (e) {
      F.error = `Could not reach the dashboard server: ${e.message}`;
      return null;
    } finally {
      F.busy = false;
    }
  }

  async function load() {
    const w = where();
    try {
      if (w.name === "anomaly" || w.name === "anomalies") {
        const q = w.name === "anomaly" && w.arg ? `?anomaly_id=${encodeURIComponent(w.arg)}` : "";
        const res = await fetch(`/api/feedback/state${q}`);
        F.state = res.ok ? await res.json() : { error: `HTTP ${res.status}` };
      }
      if (w.name === "policies") {
        const res = await fetch("/api/breakers");
        F.breakers = res.ok ? await res.json() : { error: `HTTP ${res.status}` };
      }
    } catch (e) {
      F.state = F.state || { error: e.message };
    }
    render();
  }

  function sensitivityRow(s) {
    const muted = s.muted ? `muted until ${esc(when(s.muted_until))}` : "not muted";
    return `<tr data-testid="sensitivity-row" data-series="${esc(s.series_id)}">
      <td>${esc(s.service)}</td><td>${esc(s.metric)}</td>
      <td class="num" data-testid="sensitivity-factor">×${esc(Number(s.factor).toFixed(2))}</td>
      <td data-testid="sensitivity-mute">${muted}</td><td class="small">${esc(s.noise)} noise / ${esc(s.confirmed)} confirmed</td>
      <td><button data-testid="sensitivity-reset" data-series="${esc(s.series_id)}" ${F.busy || (s.factor === 1 && !s.muted) ? "disabled" : ""}>reset</button></td></tr>`;
  }

  function feedbackPanel() {
    const st = F.state || {};
    const a = st.anomaly;
    let html = "";
    if (a) {
      const records = (a.feedback_records || []).slice().reverse();
      const sens = a.sensitivity;
      html += `<div class="card" data-testid="feedback-form" data-anomaly="${esc(a.id)}" style="margin-top:12px">
        <h3 style="margin:0 0 6px">Operator feedback on ${esc(a.service)} · ${esc(a.metric)}</h3>
        <div class="row">
          <input data-testid="feedback-reason" maxlength="500" placeholder="reason (required)" style="flex:1;min-width:16em">
          <label class="small">mute <select data-testid="feedback-mute">
            <option value="">no</option><option value="900">15 min</option><option value="3600">1 h</option>
            <option value="14400">4 h</option><option value="86400">24 h</option></select></label>
          <button data-testid="feedback-noise" data-label="noise" ${F.busy ? "disabled" : ""}>Noise</button>
          <button data-testid="feedback-confirmed" data-label="confirmed" ${F.busy ? "disabled" : ""}>Confirmed</button>
        </div>
        <p class="small" data-testid="feedback-sensitivity">Series sensitivity: ${sens ? `thresholds ×${esc(Number(sens.factor).toFixed(2))}, ${sens.muted ? `muted until ${esc(when(sens.muted_until))}` : "not muted"}` : "the detector's own (×1.00, not muted)"}</p>
        ${records.length ? `<ul class="small" data-testid="feedback-records">${records.map((r) => `<li data-testid="feedback-record" data-label="${esc(r.label)}">${esc(when(r.at))}: <b>${esc(r.label)}</b> — ${esc(r.reason)}${r.mute_for_s ? ` (muted ${esc(Math.round(r.mute_for_s / 60))} min)` : ""}</li>`).join("")}</ul>` : `<p class="small muted">No feedback yet.</p>`}
      </div>`;
    }
    if (F.msg) html += `<div class="small" data-testid="feedback-message">${esc(F.msg)}</div>`;
    if (F.error) html += `<div class="error-box small" data-testid="feedback-error">${esc(F.error)}</div>`;
    const p = st.precision;
    const signals = (p && p.signals) || [];
    html += `<div class="card" data-testid="precision" style="margin-top:12px"><h3 style="margin:0 0 6px">Precision per signal (confirmed / labelled)</h3>
      ${signals.length ? `<table class="small"><thead><tr><th>service</th><th>metric</th><th>confirmed</th><th>noise</th><th>precision</th></tr></thead><tbody>${signals.map((s) => `<tr data-testid="precision-row" data-service="${esc(s.service)}" data-metric="${esc(s.metric)}"><td>${esc(s.service)}</td><td>${esc(s.metric)}</td><td class="num">${esc(s.confirmed)}</td><td class="num">${esc(s.noise)}</td><td class="num" data-testid="precision-value">${pct(s.precision)}</td></tr>`).join("")}</tbody></table>` : `<p class="small muted">No labelled anomaly yet.</p>`}</div>`;
    const items = (st.sensitivity && st.sensitivity.items) || [];
    html += `<div class="card" data-testid="sensitivities" style="margin-top:12px"><h3 style="margin:0 0 6px">Series sensitivity set by operators</h3>
      ${items.length ? `<table class="small"><thead><tr><th>service</th><th>metric</th><th>thresholds</th><th>mute</th><th>labels</th><th></th></tr></thead><tbody>${items.map(sensitivityRow).join("")}</tbody></table>` : `<p class="small muted">Every series uses the detector's own thresholds.</p>`}
      ${st.error ? `<div class="error-box small">${esc(st.error)}</div>` : ""}</div>`;
    return html;
  }

  function breakerPanel() {
    const b = F.breakers || {};
    const rows = Object.entries(b.breakers || {}).sort();
    let html = `<div class="card" data-testid="breakers" style="margin-top:12px"><h3 style="margin:0 0 6px">Circuit breakers</h3>`;
    if (!rows.length) html += `<p class="small muted">${b.error ? esc(b.error) : "No breaker has tripped or counted a failure."}</p>`;
    else {
      html += `<table class="small"><thead><tr><th>target</th><th>state</th><th>failures</th><th>opened</th><th>reset (reason)</th></tr></thead><tbody>` +
        rows.map(([target, s]) => {
          const idle = s.state === "closed" && !s.failures;
          return `<tr data-testid="breaker-row" data-target="${esc(target)}" data-state="${esc(s.state)}"><td>${esc(target)}</td><td data-testid="breaker-state">${esc(s.state)}</td><td class="num">${esc(s.failures)}</td><td>${esc(when(s.opened_at))}</td>
            <td>${idle ? `<span class="muted">—</span>` : `<input data-testid="breaker-reason" data-target="${esc(target)}" maxlength="500" placeholder="why"> <button data-testid="breaker-reset" data-target="${esc(target)}" ${F.busy ? "disabled" : ""}>Reset breaker</button>`}</td></tr>`;
        }).join("") + `</tbody></table>`;
    }
    if (F.msg) html += `<div class="small" data-testid="breaker-message">${esc(F.msg)}</div>`;
    if (F.error) html += `<div class="error-box small" data-testid="breaker-error">${esc(F.error)}</div>`;
    return html + `</div>`;
  }

  function render() {
    const w = where();
    const fb = $("#feedback-panel"), br = $("#breaker-panel");
    if (!fb || !br) return;
    const onAnomalies = w.name === "anomaly" || w.name === "anomalies";
    fb.hidden = !onAnomalies;
    br.hidden = w.name !== "policies";
    // keep what the operator is typing: skip a refresh while a field of the panel has focus
    const typing = document.activeElement && document.activeElement.closest && document.activeElement.closest("#feedback-panel input, #breaker-panel input");
    if (typing) return;
    if (onAnomalies) fb.innerHTML = feedbackPanel();
    if (w.name === "policies") br.innerHTML = breakerPanel();
  }

  document.addEventListener("click", async (e) => {
    const label = e.target.closest("[data-testid=feedback-noise], [data-testid=feedback-confirmed]");
    if (label && !label.disabled) {
      const form = label.closest("[data-testid=feedback-form]");
      const reason = form.querySelector("[data-testid=feedback-reason]").value.trim();
      const mute = form.querySelector("[data-testid=feedback-mute]").value;
      if (!reason) { F.error = "Say why (a reason is required)."; render(); return; }
      const body = { label: label.dataset.label, reason };
      if (mute && label.dataset.label === "noise") body.mute_for_s = Number(mute);
      const ok = await send("POST", `/api/anomalies/${encodeURIComponent(form.dataset.anomaly)}/feedback`, body);
      if (ok) F.msg = `Recorded as ${body.label}; series thresholds now ×${Number(ok.sensitivity.factor).toFixed(2)}${ok.sensitivity.muted ? ", muted" : ""}.`;
      document.activeElement && document.activeElement.blur && document.activeElement.blur();
      await load();
      return;
    }
    const reset = e.target.closest("[data-testid=sensitivity-reset]");
    if (reset && !reset.disabled) {
      const ok = await send("DELETE", `/api/sensitivity/${encodeURIComponent(reset.dataset.series)}`);
      if (ok) F.msg = "Sensitivity reset to the detector's own.";
      await load();
      return;
    }
    const breaker = e.target.closest("[data-testid=breaker-reset]");
    if (breaker && !breaker.disabled) {
      const target = breaker.dataset.target;
      const input = document.querySelector(`[data-testid=breaker-reason][data-target="${CSS.escape(target)}"]`);
      const reason = input ? input.value.trim() : "";
      if (!reason) { F.error = "Say why (a reason is required)."; render(); return; }
      const ok = await send("POST", `/api/breakers/${encodeURIComponent(target)}/reset`, { reason });
      if (ok) F.msg = `Breaker for ${target} closed (audited as ${ok.action.id}).`;
      document.activeElement && document.activeElement.blur && document.activeElement.blur();
      await load();
    }
  });
  window.addEventListener("hashchange", () => { F.msg = null; F.error = null; F.state = null; render(); load(); });
  F.timer = setInterval(load, 5000);
  load();
})();
