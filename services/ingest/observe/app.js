// Saylau Watch for observers: sign in, see her stations, save reports on the phone, and let the
// queue (outbox.js) get them to ingest whenever there is a network. Works offline once loaded:
// the service worker (sw.js) keeps the app, IndexedDB (db.js) keeps the session, her forms
// and every report. Text is set with textContent only; labels come from /observe/i18n/.
//
//   session.js  sign-in and /v1/observer/me      reports.js  saving, correcting, exporting
//   sync.js     the page's passes over the queue  view.js, list.js  what is on screen
//   messages.js the centre's messages, marked read through the queue
import { getKey } from "./db.js";
import { el } from "./forms.js";
import { loadLabels } from "./i18n.js";
import { QUEUED } from "./outbox.js";
import {
  onChecklist, onCorrect, onDiscard, onExport, onIncident, onPhotos, onPresence,
} from "./reports.js";
import { onSignIn, onSignOut, refreshMe } from "./session.js";
import { $, active, state } from "./state.js";
import { refreshReports, requestBackgroundSync, send } from "./sync.js";
import {
  openForm, render, renderChecklist, renderIncident, renderLanguages, renderNetwork, renderQueue,
} from "./view.js";

const ME_EVERY_MS = 5 * 60_000;
const TICK_MS = 15_000;

async function start() {
  await loadLabels();
  renderLanguages();
  bind();
  registerWorker();
  state.session = (await getKey("session")) ?? null;
  state.me = (await getKey("me"))?.body ?? null;
  await refreshReports();
  render();
  if (active()) {
    refreshMe();
    send();  // opening the app is a reason to try again
  }
  setInterval(tick, TICK_MS);
}

function tick() {
  if (!active()) return;
  if (Date.now() - state.meAt > ME_EVERY_MS) refreshMe();
  if (state.reports.some((r) => r.state === QUEUED)) send();
}

function registerWorker() {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.register("/observe/sw.js", { scope: "/observe/", type: "module" })
    .catch((error) => console.warn("service worker not registered", error));
  navigator.serviceWorker.ready.then(() => {
    state.offlineReady = true;
    renderNetwork();
  });
  navigator.serviceWorker.addEventListener("controllerchange", renderNetwork);
  navigator.serviceWorker.addEventListener("message", async (event) => {
    if (event.data?.type !== "outbox") return;  // the worker's background sync sent some
    state.session = (await getKey("session")) ?? null;
    await refreshReports();
    render();
  });
}

function bind() {
  $("[data-testid=sign-in-form]").addEventListener("submit", onSignIn);
  $("[data-testid=sign-out]").addEventListener("click", onSignOut);
  $("[data-testid=arrived]").addEventListener("click", () => onPresence("observer.arrived"));
  $("[data-testid=departed]").addEventListener("click", () => onPresence("observer.departed"));
  for (const opener of document.querySelectorAll("[aria-controls]")) {
    opener.addEventListener("click", () => openForm(opener.getAttribute("aria-controls")));
  }
  $("#checklist").addEventListener("change", () => renderChecklist());
  $("#incident-type").addEventListener("change", () => renderIncident());
  $("#checklist-form").addEventListener("submit", onChecklist);
  $("#incident-form").addEventListener("submit", onIncident);
  $("#incident-photos").addEventListener("change", onPhotos);
  $("[data-testid=send-now]").addEventListener("click", () => send({ force: true }));
  $("[data-testid=export]").addEventListener("click", onExport);
  $("[data-testid=reports]").addEventListener("click", onReportAction);
  addEventListener("online", () => {
    renderNetwork();
    if (!active()) return;
    refreshMe();
    send({ force: true });
  });
  addEventListener("offline", renderNetwork);
  document.addEventListener("saylau:saved", onSavedElsewhere);
}

/** A report saved outside a form (a message marked read): on screen and on its way. */
async function onSavedElsewhere() {
  await refreshReports();
  renderQueue();
  requestBackgroundSync();
  send({ force: true });
}

function onReportAction(event) {
  const button = event.target.closest("button[data-action]");
  const eventId = button?.closest("[data-event-id]")?.dataset.eventId;
  const report = state.reports.find((r) => r.event_id === eventId);
  if (!report) return;
  if (button.dataset.action === "correct") onCorrect(report);
  else if (button.dataset.action === "discard") onDiscard(report, button);
}

start().catch((error) => {
  console.error(error);
  document.body.prepend(el("p", { class: "banner", role: "alert", text: String(error) }));
});
