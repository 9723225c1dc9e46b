// Saylau Watch dashboard, triage in the station timeline: claim, verify, reject, escalate or
// comment on a report. The dashboard's session (an account or key holding the triage scope)
// posts the triage event to ingest (ingest_url of GET /v1/session) with its cookie
// (credentials: "include") and its CSRF token (X-CSRF-Token); ingest records who did it.
// Then the report's status is read again until it changes (the projection's lag).
"use strict";

(() => {
  const params = new URLSearchParams(location.search);
  const LANG = ["en", "kk", "ru"].includes(params.get("lang")) ? params.get("lang") : "en";
  const POLL_MS = 1000;
  const POLL_FOR_MS = 30000;
  const ACTIONS = [
    { name: "claim", type: "triage.claimed", operator: true },
    { name: "verify", type: "report.verified", text: "reason" },
    { name: "reject", type: "report.rejected", text: "reason" },
    { name: "escalate", type: "triage.escalated", text: "reason", needsText: true, operator: true },
    { name: "comment", type: "triage.commented", text: "note", needsText: true, operator: true },
  ];
  const NOT_A_REPORT = /^(triage\.|report\.(verified|rejected|retracted)$)/;

  const list = document.querySelector("[data-testid=station-timeline-events]");
  const panel = document.querySelector("[data-testid=station-timeline]");
  if (!list || !panel) return;
  let who = null;
  let labels = {};
  const t = (key, vars = {}) =>
    (labels[key] ?? key).replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));

  function el(tag, attrs = {}, text = "") {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
    node.textContent = text;
    return node;
  }

  function uuid4() { // crypto.randomUUID needs a secure context; getRandomValues does not
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  const mayTriage = () => Boolean(who && who.scopes.includes("triage") && who.csrf_token
                                  && who.ingest_url);

  function decorate() {
    for (const item of list.querySelectorAll("[data-testid=station-event]")) {
      const shown = item.querySelector("[data-testid=triage-actions]");
      if (!mayTriage()) {
        if (shown) shown.remove();
      } else if (!shown && !NOT_A_REPORT.test(item.querySelector(".title")?.textContent ?? "")) {
        item.append(actions(item.dataset.event));
      }
    }
  }

  function actions(eventId) {
    const box = el("div", { class: "triage", "data-testid": "triage-actions" });
    const text = el("input", { type: "text", maxlength: "2000", "data-testid": "triage-text",
                               placeholder: t("triage.text"), "aria-label": t("triage.text") });
    const result = el("span", { class: "result", role: "status", "data-testid": "triage-result" });
    const buttons = ACTIONS.map((action) => {
      const button = el("button", { type: "button", "data-testid": `triage-${action.name}` },
                        t(`triage.${action.name}`));
      button.addEventListener("click", () => act(action, eventId, { text, result, buttons }));
      return button;
    });
    box.append(text, ...buttons, result);
    return box;
  }

  function triageEvent(action, eventId, note) {
    const payload = { event_id: eventId };
    if (action.operator) payload.operator = (who.login ?? who.partner).slice(0, 100);
    if (note && action.text) payload[action.text] = note;
    return { event_id: uuid4(), type: action.type, schema_version: 1,
             occurred_at: new Date().toISOString(), source: "dashboard", payload };
  }

  async function act(action, eventId, { text, result, buttons }) {
    const note = text.value.trim();
    if (action.needsText && !note) {
      report(result, t("triage.needs_text"), true);
      text.focus();
      return;
    }
    buttons.forEach((b) => { b.disabled = true; });
    const reply = await fetch(`${who.ingest_url.replace(/\/+$/, "")}/v1/events`, {
      method: "POST", credentials: "include",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": who.csrf_token },
      body: JSON.stringify(triageEvent(action, eventId, note)),
    }).catch((error) => ({ ok: false, status: error.message }));
    buttons.forEach((b) => { b.disabled = false; });
    if (!reply.ok) {
      report(result, t("triage.failed", { error: `HTTP ${reply.status}` }), true);
      return;
    }
    text.value = "";
    report(result, t("triage.sent", { action: t(`triage.${action.name}`) }), false);
    followStatus(eventId);
  }

  function report(result, message, failed) {
    result.textContent = message;
    result.classList.toggle("failed", failed);
  }

  async function followStatus(eventId) {
    const station = panel.dataset.station;
    const status = () => list.querySelector(
      `[data-event="${eventId}"] [data-testid=station-event-status]`);
    const before = status()?.textContent;
    for (let waited = 0; waited < POLL_FOR_MS && panel.dataset.station === station;
         waited += POLL_MS) {
      await new Promise((resolve) => { setTimeout(resolve, POLL_MS); });
      const reply = await fetch(`/v1/stations/${encodeURIComponent(station)}/timeline`,
                                { credentials: "same-origin" }).catch(() => null);
      if (!reply || !reply.ok) continue;
      const found = (await reply.json()).events.find((e) => e.event_id === eventId);
      if (found && status() && found.status !== before) {
        status().textContent = found.status;
        return;
      }
    }
  }

  document.addEventListener("saylau:signed-in", (event) => { who = event.detail; decorate(); });
  document.addEventListener("saylau:signed-out", () => { who = null; decorate(); });
  new MutationObserver(decorate).observe(list, { childList: true });
  fetch(`/static/i18n/${LANG}.json`).then((reply) => reply.json())
    .then((loaded) => { labels = loaded; })
    .catch(() => null);
})();
