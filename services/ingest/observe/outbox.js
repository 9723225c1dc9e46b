// The queue: every report saved on the phone, sent until the server has answered it.
//
// A report gets its event_id when it is saved, and its JSON text never changes afterwards
// (a correction is a new report), so every re-send is byte for byte the same and the server
// answers it `200 duplicate`: counted once, however often the phone had to try.
//
//   2xx                        -> sent (accepted or duplicate)
//   401                        -> stays queued; the session is expired (sign in again) or
//                                 the accreditation revoked (the reason is shown)
//   408, 429, 5xx, no network  -> stays queued; the queue is retried with back-off
//   any other 4xx (409 too)    -> rejected, with the server's reason; kept until she discards it
//
// Photos go to POST /v1/evidence before the report that names them. Nothing is deleted
// unless she discards a rejected report herself. The page and the service worker (background
// sync) both run `sendQueued`; a Web Lock lets one pass run at a time.
import { NetworkError, postEvent, reasonOf, retryAfter, uploadEvidence } from "./api.js";
import { database, getKey, putKey } from "./db.js";

export const QUEUED = "queued";
export const SENT = "sent";
export const REJECTED = "rejected";
export const SYNC_TAG = "saylau-outbox";
const FIRST_RETRY_MS = 2_000;
const LAST_RETRY_MS = 5 * 60_000;

/** Save a report (and its photos) on the phone, queued. `envelope` is final from here on. */
export async function saveReport(envelope, { kind, title, where, photos = [] }) {
  const db = await database();
  const tx = db.transaction(["reports", "photos"], "readwrite");
  const stored = tx.objectStore("photos");
  for (const photo of photos) {  // a corrected report's photos may be on the server already
    if (photo.blob && !(await stored.get(photo.sha256))) {
      await stored.put({ sha256: photo.sha256, blob: photo.blob, name: photo.name,
                         media_type: photo.blob.type, uploaded: false });
    }
  }
  const report = {
    event_id: envelope.event_id, body: JSON.stringify(envelope), kind, title, where,
    photos: photos.map((p) => p.sha256), state: QUEUED, saved_at: new Date().toISOString(),
    outcome: null, reason: null, status: null, conflict: false, sent_at: null,
  };
  await tx.objectStore("reports").add(report);
  await tx.done;
  return report;
}

/** Every report on the phone, the newest first. */
export async function listReports() {
  const reports = await (await database()).getAllFromIndex("reports", "saved_at");
  return reports.reverse();
}

/** She discards a rejected report (never a queued or sent one). */
export async function discardReport(eventId) {
  const db = await database();
  const report = await db.get("reports", eventId);
  if (report?.state !== REJECTED) throw new Error("only a rejected report can be discarded");
  await db.delete("reports", eventId);
}

/** One pass over the queue, oldest first; `force` ignores the back-off (she is online again,
 * or pressed "Send now"). Answers what the queue waits for: null, "signin", "network", "server". */
export async function sendQueued({ force = false } = {}) {
  const locks = globalThis.navigator?.locks;
  return locks ? locks.request(SYNC_TAG, () => pass(force)) : pass(force);
}

async function pass(force) {
  const session = await getKey("session");
  if (session?.status !== "active") return { waiting: "signin" };  // the server says when a
  // token ends (401), not the phone's clock, which may be wrong
  const retry = (await getKey("retry")) ?? { failures: 0, next_at: 0 };
  if (!force && retry.next_at > Date.now()) return { waiting: retry.kind, next_at: retry.next_at };
  const reports = await (await database()).getAllFromIndex("reports", "saved_at");
  for (const report of reports.filter((r) => r.state === QUEUED)) {
    const step = await sendOne(session, report);
    if (step) return step;
  }
  if (retry.failures) await putKey("retry", { failures: 0, next_at: 0, kind: null });
  return { waiting: null };
}

/** null when the next report may go, else why the pass stops. */
async function sendOne(session, report) {
  try {
    for (const sha256 of report.photos) {
      const photo = await upload(session, sha256);
      if (photo.reject) return settle(report, photo.reject);
      if (photo.stop) return photo.stop;
    }
    return await settle(report, await postEvent(session.token, report.body), session);
  } catch (error) {
    if (error instanceof NetworkError) return later("network", null);
    throw error;
  }
}

function verdict(status) {
  if (status >= 200 && status < 300) return "ok";
  if (status === 401) return "signin";
  if (status === 408 || status === 429 || status >= 500) return "retry";
  return "reject";
}

async function upload(session, sha256) {
  const db = await database();
  const photo = await db.get("photos", sha256);
  if (!photo || photo.uploaded) return {};
  const reply = await uploadEvidence(session.token, photo.blob, photo.name);
  const kind = verdict(reply.status);
  if (kind === "ok" && reply.body?.sha256 === sha256) {
    await db.put("photos", { ...photo, blob: null, uploaded: true });
    return {};
  }
  if (kind === "ok") return { reject: { status: 422, body: { detail: `photo: the server stored ${reply.body?.sha256}, not ${sha256}` } } };
  if (kind === "reject") return { reject: { ...reply, body: { detail: `photo: ${reasonOf(reply.body)}` } } };
  if (kind === "signin") return { stop: await signedOut(session, reply) };
  return { stop: await later("server", retryAfter(reply.headers)) };
}

async function settle(report, reply, session) {
  const kind = verdict(reply.status);
  if (kind === "signin") return signedOut(session, reply);
  if (kind === "retry") return later("server", retryAfter(reply.headers));
  const db = await database();
  if (kind === "ok") {
    const outcome = reply.body?.status ?? (reply.status === 200 ? "duplicate" : "accepted");
    await db.put("reports", { ...report, state: SENT, outcome, status: reply.status,
                              reason: null, sent_at: new Date().toISOString() });
  } else {
    await db.put("reports", { ...report, state: REJECTED, status: reply.status,
                              conflict: reply.status === 409, reason: reasonOf(reply.body) });
  }
  return null;
}

async function later(kind, seconds) {
  const retry = (await getKey("retry")) ?? { failures: 0 };
  const failures = retry.failures + 1;
  const backoff = Math.min(FIRST_RETRY_MS * 2 ** (failures - 1), LAST_RETRY_MS);
  const wait = Math.max(backoff * (0.75 + Math.random() / 2), (seconds ?? 0) * 1000);
  const next = { failures, next_at: Date.now() + wait, kind };
  await putKey("retry", next);
  return { waiting: kind, next_at: next.next_at };
}

async function signedOut(session, reply) {
  const reason = reasonOf(reply.body);
  await endSession(session, /revoked/i.test(reason) ? "revoked" : "expired", reason);
  return { waiting: "signin" };
}

/** The token no longer works: the queue waits for a new sign-in (or, revoked, for export). */
export async function endSession(session, status, reason) {
  const current = await getKey("session");
  if (current?.token === session.token) await putKey("session", { ...current, status, reason });
}

/** Everything not sent, as a file for her coordinator: the reports exactly as saved, and the
 * bytes of every photo the server does not have yet. */
export async function exportUnsent() {
  const db = await database();
  const reports = (await db.getAllFromIndex("reports", "saved_at")).filter((r) => r.state !== SENT);
  const session = await getKey("session");
  const photos = [];
  for (const sha256 of new Set(reports.flatMap((r) => r.photos))) {
    const photo = await db.get("photos", sha256);
    photos.push({ sha256, uploaded: Boolean(photo?.uploaded), media_type: photo?.media_type ?? null,
                  base64: photo?.blob ? await base64(photo.blob) : null });
  }
  return {
    exported_at: new Date().toISOString(), observer_id: session?.observer_id ?? null,
    not_sent_because: session?.reason ?? session?.status ?? null,
    reports: reports.map((r) => ({ event_id: r.event_id, state: r.state, reason: r.reason,
                                   saved_at: r.saved_at, envelope: JSON.parse(r.body) })),
    photos,
  };
}

async function base64(blob) {
  const bytes = new Uint8Array(await blob.arrayBuffer());
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(text);
}
