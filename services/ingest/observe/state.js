// What the page holds while it is open (the phone keeps the rest in IndexedDB, db.js).
export const state = {
  session: null,      // {token, observer_id, expires_at, status: active|expired|revoked, reason}
  me: null,           // the last GET /v1/observer/me
  reports: [],        // every report on the phone, the newest first
  photos: [],         // photos picked for the report being written
  waiting: null,      // what the queue waits for: null, "signin", "network", "server"
  nextAt: null,       // when the queue tries again (back-off)
  openedAt: new Date(),  // when the open form was opened: its default time seen
  formsShown: null,   // the version of the forms on screen
  meAt: 0,            // when /v1/observer/me was last asked
  offlineReady: false,
};

export const $ = (selector) => document.querySelector(selector);

export function active() {
  return state.session?.status === "active";
}
