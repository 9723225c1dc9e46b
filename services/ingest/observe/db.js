// What the app keeps on the phone (IndexedDB, through the `idb` wrapper from npm).
//
//   kv       "session" {token, observer_id, expires_at, status, reason}; "me" (the last
//            GET /v1/observer/me and its etag); "retry" (the back-off of the queue)
//   reports  every report saved, by its event_id, with its state: queued, sent, rejected
//   photos   each photo by its SHA-256: the bytes until the server has them
//
// Used by the page and by the service worker alike.
import { openDB } from "./vendor/idb.js";

export const DB_NAME = "saylau-observe";

let opened = null;

export function database() {
  opened ??= openDB(DB_NAME, 1, {
    upgrade(db) {
      db.createObjectStore("kv");
      db.createObjectStore("reports", { keyPath: "event_id" }).createIndex("saved_at", "saved_at");
      db.createObjectStore("photos", { keyPath: "sha256" });
    },
  });
  return opened;
}

export async function getKey(name) {
  return (await database()).get("kv", name);
}

export async function putKey(name, value) {
  return (await database()).put("kv", value, name);
}

export async function deleteKey(name) {
  return (await database()).delete("kv", name);
}
