// Getting the queue to ingest from the page: a pass when asked (saving, online again, opening,
// "Send now"), again at the back-off's time, and a background sync for the service worker.
import { getKey } from "./db.js";
import { SYNC_TAG, listReports, sendQueued } from "./outbox.js";
import { state } from "./state.js";
import { render } from "./view.js";

let running = null;
let again = null;
let retryTimer = null;

/** One pass over the queue; asked while one runs, another follows it. */
export function send({ force = false } = {}) {
  if (running) {
    again = { force: force || Boolean(again?.force) };
    return running;
  }
  running = pass(force).finally(() => {
    running = null;
    const next = again;
    again = null;
    if (next) send(next);
  });
  return running;
}

async function pass(force) {
  const result = await sendQueued({ force });
  state.waiting = result.waiting;
  state.nextAt = result.next_at ?? null;
  if (result.waiting === "signin") state.session = (await getKey("session")) ?? null;
  if (result.waiting === "network" || result.waiting === "server") requestBackgroundSync();
  scheduleRetry();
  await refreshReports();
  render();
}

function scheduleRetry() {
  clearTimeout(retryTimer);
  if (state.nextAt) retryTimer = setTimeout(() => send(), Math.max(0, state.nextAt - Date.now()) + 50);
}

export async function refreshReports() {
  state.reports = await listReports();
}

/** Let the service worker send when the browser sees a network, even with the app closed. */
export function requestBackgroundSync() {
  navigator.serviceWorker?.ready
    .then((registration) => registration.sync?.register(SYNC_TAG))
    .catch(() => {});  // no background sync here: the page retries on `online` and a timer
}
