// Messages from the centre (the `messages` of GET /v1/observer/me, kept on the phone with the
// rest of "me", so they show offline too): each in her language, else another the centre
// wrote it in. A message shown for the first time is marked read with a `broadcast.read`
// report, through the queue like every report, once: the ids marked are kept in IndexedDB.
import { getKey, putKey } from "./db.js";
import { el, envelope } from "./forms.js";
import { formatTime, localized, t } from "./i18n.js";
import { saveReport } from "./outbox.js";
import { $, state } from "./state.js";

const MARKED = "messages-read";
const marking = new Set();  // asked to mark in this page, before IndexedDB has the id

export function renderMessages() {
  const messages = state.me?.messages ?? [];
  $("[data-testid=messages-panel]").hidden = messages.length === 0;
  $("[data-testid=messages]").replaceChildren(...messages.map(messageItem));
  const unread = messages.filter((m) => !m.read && !marking.has(m.id));
  if (unread.length) markRead(unread).catch((error) => console.error(error));
}

function messageItem(message) {
  return el("li", { "data-testid": "message", "data-message-id": message.id,
                    "data-read": String(Boolean(message.read)) },
    el("time", { datetime: message.sent_at, text: message.sent_at ? formatTime(message.sent_at) : "" }),
    el("p", { text: localized(message.text) }));
}

/** A `broadcast.read` for each message shown and not marked before, saved in the queue. */
async function markRead(messages) {
  for (const m of messages) marking.add(m.id);
  const marked = new Set((await getKey(MARKED)) ?? []);
  const fresh = messages.filter((m) => !marked.has(m.id));
  for (const m of fresh) {
    await saveReport(envelope({ type: "broadcast.read", version: 1, occurredAt: new Date(),
                                me: state.me,
                                payload: { broadcast_id: m.id, observer_id: state.session.observer_id } }),
                     { kind: "broadcast.read", title: { key: "observe.kind.broadcast.read" },
                       where: t("observe.messages.title") });
    marked.add(m.id);
    await putKey(MARKED, [...marked]);
  }
  if (fresh.length) document.dispatchEvent(new CustomEvent("saylau:saved"));
}
