// The calls the app makes to ingest (same origin), for the page and the service worker.
// Every answer comes back as {status, body, headers}; no network at all is a NetworkError.

export class NetworkError extends Error {}

async function call(path, options = {}) {
  let reply;
  try {
    reply = await fetch(path, { credentials: "omit", cache: "no-store", ...options });
  } catch (error) {
    throw new NetworkError(String(error?.message ?? error));
  }
  let body = null;
  try {
    body = await reply.clone().json();
  } catch {
    body = reply.status === 304 ? null : { detail: await reply.text().catch(() => "") };
  }
  return { status: reply.status, body, headers: reply.headers };
}

const bearer = (token) => ({ Authorization: `Bearer ${token}` });

export function signIn(observerId, pin) {
  return call("/v1/observer/session", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ observer_id: observerId, pin }),
  });
}

export function getMe(token, etag) {
  return call("/v1/observer/me", {
    headers: { ...bearer(token), ...(etag ? { "If-None-Match": etag } : {}) },
  });
}

/** POST one saved report: `body` is the JSON text saved on the phone, sent byte for byte. */
export function postEvent(token, body) {
  return call("/v1/events", {
    method: "POST",
    headers: { ...bearer(token), "Content-Type": "application/json" },
    body,
  });
}

export function uploadEvidence(token, blob, name) {
  const form = new FormData();
  form.append("file", blob, name);
  return call("/v1/evidence", { method: "POST", headers: bearer(token), body: form });
}

/** The server's reason, with the field it names: "payload.count: must be at least 1". */
export function reasonOf(body) {
  const detail = body?.detail ?? body?.errors ?? body;
  if (Array.isArray(detail)) {
    return detail.map((e) => {
      const where = (e.loc ?? []).filter((part) => part !== "body").join(".");
      return where ? `${where}: ${e.msg}` : String(e.msg ?? JSON.stringify(e));
    }).join("; ");
  }
  if (typeof detail === "string") return detail;
  return JSON.stringify(detail ?? "");
}

/** Seconds the server asked to wait (Retry-After), or null. */
export function retryAfter(headers) {
  const value = headers?.get("Retry-After");
  if (!value) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, (at - Date.now()) / 1000);
}
