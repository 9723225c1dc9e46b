// Saylau Watch dashboard, messages to observers: the messages sent (GET /v1/broadcasts, only
// those addressed within the reader's regions for a regional principal), each with how many of
// the observers it reached have read it; and, for a principal with the broadcast scope, a form
// that sends one (POST /v1/broadcasts on ingest, with the session and its CSRF token, at the
// `ingest_url` that GET /v1/session answers).
"use strict";

(() => {
  const panel = document.querySelector("[data-testid=broadcasts-panel]");
  if (!panel) return;
  const POLL_MS = 5000;
  const LANGS = { en: "en-GB", kk: "kk-KZ", ru: "ru-RU" };
  const asked = new URLSearchParams(location.search).get("lang");
  const LANG = asked in LANGS ? asked : "en";
  const $ = (selector) => panel.querySelector(selector);
  let labels = {};
  let signedIn = null;
  const t = (key, vars = {}) =>
    (labels[key] ?? key).replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
  const list = (text) => text.split(",").map((s) => s.trim()).filter(Boolean);

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
    node.append(...children);
    return node;
  }

  const textOf = (text) => text?.[LANG] ?? text?.en ?? text?.ru ?? text?.kk ?? "";
  const when = (iso) => new Intl.DateTimeFormat(LANGS[LANG], {
    day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  }).format(new Date(iso));

  function render(broadcasts) {
    $("[data-testid=broadcasts-empty]").hidden = broadcasts.length > 0;
    $("[data-testid=broadcasts]").replaceChildren(...broadcasts.map((b) => el("li",
      { "data-testid": "broadcast", "data-broadcast-id": b.id },
      el("time", { datetime: b.sent_at }, when(b.sent_at)),
      el("p", {}, textOf(b.text)),
      el("p", { class: "muted small" },
         el("span", {}, [b.regions.join(", "), b.station_ids.join(", ")].filter(Boolean)
           .join(" · ") || t("broadcasts.whole_country")), " · ",
         el("span", { "data-testid": "broadcast-read" },
            t("broadcasts.read", { read: b.read, addressed: b.addressed }))))));
  }

  async function poll() {
    try {
      const reply = await fetch("/v1/broadcasts", { credentials: "same-origin" });
      panel.hidden = !reply.ok;  // signed out, or not a reader of messages
      if (reply.ok) render((await reply.json()).broadcasts);
      if (reply.ok !== signedIn) await showForm();  // signed in or out since
      signedIn = reply.ok;
    } catch (error) {
      $("[data-testid=broadcast-status]").textContent = error.message;
    } finally {
      setTimeout(poll, POLL_MS);
    }
  }

  async function session() {
    const reply = await fetch("/v1/session", { credentials: "same-origin" }).catch(() => null);
    return reply?.ok ? reply.json() : null;
  }

  async function showForm() {
    const who = await session();
    $("[data-testid=broadcast-form]").hidden = !who?.scopes?.includes("broadcast");
  }

  async function send(event) {
    event.preventDefault();
    const form = event.currentTarget;
    const status = $("[data-testid=broadcast-status]");
    const who = await session();
    if (!who?.ingest_url || !who?.csrf_token) {
      status.textContent = t("broadcasts.no_ingest");
      return;
    }
    const text = Object.fromEntries(["kk", "ru", "en"]
      .map((lang) => [lang, form.elements[`text_${lang}`].value.trim()]).filter(([, v]) => v));
    const regions = list(form.elements.regions.value);
    const stations = list(form.elements.station_ids.value);
    const body = { text, ...(regions.length ? { regions } : {}),
                   ...(stations.length ? { station_ids: stations } : {}) };
    const reply = await fetch(`${who.ingest_url.replace(/\/$/, "")}/v1/broadcasts`, {
      method: "POST", credentials: "include", body: JSON.stringify(body),
      headers: { "Content-Type": "application/json", "X-CSRF-Token": who.csrf_token },
    }).catch((error) => ({ ok: false, status: 0, json: async () => ({ detail: error.message }) }));
    if (reply.ok) {
      form.reset();
      status.textContent = t("broadcasts.sent");
      return;
    }
    const detail = (await reply.json().catch(() => ({}))).detail;
    status.textContent = t("broadcasts.refused", { status: reply.status, reason: Array.isArray(detail)
      ? detail.map((d) => `${(d.loc ?? []).slice(-1)}: ${d.msg}`).join("; ") : String(detail ?? "") });
  }

  async function start() {
    labels = await (await fetch(`/static/i18n/${LANG}.json`)).json();
    for (const node of panel.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
    $("[data-testid=broadcast-form]").addEventListener("submit", send);
    poll();
  }

  start();
})();
