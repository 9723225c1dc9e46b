// Signing in with her observer id and PIN, and what the phone needs: her election, stations
// and forms (GET /v1/observer/me, kept in IndexedDB and asked again with If-None-Match).
import { NetworkError, getMe, reasonOf, retryAfter, signIn } from "./api.js";
import { deleteKey, getKey, putKey } from "./db.js";
import { t } from "./i18n.js";
import { endSession } from "./outbox.js";
import { $, active, state } from "./state.js";
import { send } from "./sync.js";
import { render, showSignInError } from "./view.js";

export async function onSignIn(event) {
  event.preventDefault();
  const button = event.currentTarget.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const reply = await signIn($("#observer-id").value.trim(), $("#pin").value.trim());
    if (reply.status === 201) await signedIn(reply.body);
    else showSignInError(refusal(reply));
  } catch (error) {
    if (!(error instanceof NetworkError)) throw error;
    showSignInError(t("observe.signin.offline"));
  } finally {
    button.disabled = false;
  }
}

function refusal(reply) {
  const reason = reasonOf(reply.body);
  if (reply.status === 429) {
    const minutes = Math.max(1, Math.ceil((retryAfter(reply.headers) ?? 60) / 60));
    const key = /locked/i.test(reason) ? "observe.signin.locked" : "observe.signin.too_many";
    return t(key, { minutes, reason });
  }
  if (reply.status === 401) return t("observe.signin.refused", { reason });
  return t("observe.signin.failed", { status: reply.status, reason });
}

async function signedIn(body) {
  state.session = { token: body.token, observer_id: body.observer_id, expires_at: body.expires_at,
                    status: "active", reason: null };
  await putKey("session", state.session);
  if (state.me && state.me.observer_id !== body.observer_id) {
    state.me = null;
    await deleteKey("me");
  }
  $("#pin").value = "";
  showSignInError(null);
  navigator.storage?.persist?.().catch(() => {});  // ask the browser never to evict the queue
  render();
  await refreshMe();
  await send({ force: true });
}

/** Signing out forgets the token only: her reports stay on the phone. */
export async function onSignOut() {
  await deleteKey("session");
  state.session = null;
  render();
}

export async function refreshMe() {
  if (!active()) return;
  const cached = await getKey("me");
  state.meAt = Date.now();
  let reply;
  try {
    reply = await getMe(state.session.token, cached?.etag);
  } catch (error) {
    if (error instanceof NetworkError) return;  // offline: the copy on the phone serves
    throw error;
  }
  if (reply.status === 401) {
    const reason = reasonOf(reply.body);
    await endSession(state.session, /revoked/i.test(reason) ? "revoked" : "expired", reason);
    state.session = (await getKey("session")) ?? null;
  } else if (reply.status === 200 && reply.body) {  // else 304 or a passing error: keep it
    await putKey("me", { body: reply.body, etag: reply.headers.get("ETag") ?? `"${reply.body.version}"` });
    state.me = reply.body;
  }
  render();
}
