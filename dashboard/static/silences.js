// The operator panel: what stops remediation right now besides the pause switch —
// active Alertmanager silences and the policies file's maintenance windows
// (GET /api/operators, polled; docs/alertmanager.md). Kept apart from app.js on purpose.
(() => {
  const POLL_MS = 5000;
  const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  const when = (ts) => (typeof ts === "number" && Number.isFinite(ts)) ? new Date(ts * 1000).toLocaleString([], { hour12: false }) : "—";

  function silencesHtml(data, error) {
    let state = "ok";
    let note = "";
    if (error) { state = "error"; note = error; }
    else if (!data.configured) { state = "not_configured"; note = "Alertmanager not configured (ALERTMANAGER_URL)"; }
    else if (!data.reachable || !data.fresh) { state = "unreachable"; note = `Alertmanager unreachable: ${data.error || "no recent answer"} — silences are not applied, actions proceed`; }
    const rows = ((data && data.silences) || []).map((s) =>
      `<li data-testid="silence-row" data-id="${esc(s.id)}">{${esc(s.matchers.join(", "))}} until ${esc(when(s.ends_at))}` +
      `${s.created_by ? ` by ${esc(s.created_by)}` : ""}${s.comment ? `: ${esc(s.comment)}` : ""} <span class="quiet">${esc(s.id.slice(0, 8))}</span></li>`).join("");
    const body = rows ? `<ul>${rows}</ul>` : `<div class="quiet" data-testid="silences-empty">No active silence.</div>`;
    const warn = note ? `<div class="${state === "not_configured" ? "quiet" : "warn"}" data-testid="silences-note">${esc(note)}</div>` : "";
    return `<section data-testid="silences" data-state="${state}"><h3>Alertmanager silences</h3>${warn}${body}</section>`;
  }

  function windowText(w) {
    if (w.weekly) {
      const k = w.weekly;
      return `weekly ${k.days.join(",")} ${k.start}–${k.end} ${k.timezone}`;
    }
    return `${when(w.start)} – ${when(w.end)}`;
  }

  function maintenanceHtml(data, error) {
    if (error) return `<section data-testid="maintenance" data-state="error"><h3>Maintenance windows</h3><div class="warn">${esc(error)}</div></section>`;
    const rows = (data.windows || []).map((w) =>
      `<li data-testid="window-row" data-name="${esc(w.name)}" data-active="${w.active}">${esc(w.name)} (${esc(w.services.join(", "))}): ${esc(windowText(w))}` +
      `${w.active ? ` — <b>in maintenance</b> until ${esc(when(w.active_until))}` : ""}</li>`).join("");
    const body = rows ? `<ul>${rows}</ul>` : `<div class="quiet" data-testid="maintenance-empty">No maintenance window.</div>`;
    return `<section data-testid="maintenance" data-state="ok"><h3>Maintenance windows</h3>${body}</section>`;
  }

  async function refresh() {
    const panel = document.getElementById("operator-panel");
    if (!panel) return;
    try {
      const res = await fetch("/api/operators");
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const d = await res.json();
      panel.innerHTML = silencesHtml(d.silences, d.silences_error) + maintenanceHtml(d.maintenance, d.maintenance_error);
    } catch (err) {
      panel.innerHTML = `<section data-testid="silences" data-state="error"><h3>Silences and maintenance</h3><div class="warn">dashboard: ${esc(err.message || err)}</div></section>`;
    }
  }

  refresh();
  setInterval(refresh, POLL_MS);
})();
