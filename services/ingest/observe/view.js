// The page around the queue: sign-in, the revoked alert, the network line, her stations and
// messages, and the report forms built from her forms. Text only through textContent.
import {
  checklistControls, checklistId, el, incidentControls, localInput, scopeOf,
} from "./forms.js";
import { LANG, LANGUAGES, localized, t } from "./i18n.js";
import { renderQueue, unsent } from "./list.js";
import { renderMessages } from "./messages.js";
import { $, active, state } from "./state.js";

export { renderQueue, titleOf } from "./list.js";

export function render() {
  const signedIn = active();
  $("[data-testid=sign-in]").hidden = signedIn;
  $("[data-testid=work]").hidden = !signedIn || !state.me;
  renderAlert();
  renderSignInNote();
  renderNetwork();
  if (signedIn && state.me) {
    renderWho();
    if (state.formsShown !== state.me.version) renderForms();
  }
  renderQueue();
}

export function renderLanguages() {
  $("[data-testid=languages]").replaceChildren(...Object.keys(LANGUAGES).map((code) =>
    el("a", { href: `?lang=${code}`, lang: code, "aria-current": code === LANG && "true",
              text: code.toUpperCase() })));
}

export function renderNetwork() {
  const node = $("[data-testid=network]");
  const ready = state.offlineReady && Boolean(navigator.serviceWorker?.controller);
  node.dataset.online = String(navigator.onLine);
  node.dataset.offlineReady = String(ready);
  node.textContent = [t(navigator.onLine ? "observe.network.online" : "observe.network.offline"),
                      ready ? t("observe.network.offline_ready") : ""].filter(Boolean).join(" · ");
}

function renderAlert() {
  const revoked = state.session?.status === "revoked";
  $("[data-testid=alert]").hidden = !revoked;
  $("[data-testid=alert-text]").textContent = revoked
    ? t("observe.revoked", { reason: state.session.reason ?? "", count: unsent() }) : "";
}

function renderSignInNote() {
  const status = state.session?.status;
  $("[data-testid=sign-in-note]").textContent = status === "expired"
    ? t("observe.signin.expired", { count: unsent() })
    : status === "revoked" ? t("observe.signin.revoked") : "";
  if (state.session?.observer_id && !$("#observer-id").value) {
    $("#observer-id").value = state.session.observer_id;
  }
}

export function showSignInError(text) {
  const node = $("[data-testid=sign-in-error]");
  node.hidden = !text;
  node.textContent = text ?? "";
}

function renderWho() {
  const { observer_id: observer, election, stations = [] } = state.me;
  $("[data-testid=observer]").textContent = t("observe.who", { observer });
  $("[data-testid=election]").textContent = election
    ? t("observe.election", { election: election.election_id, open: election.stations_open ?? "",
                              close: election.stations_close ?? "" }) : "";
  $("[data-testid=stations]").replaceChildren(...stations.map((s) =>
    el("li", { "data-station": s.station_id },
      el("strong", { text: s.station_id }),
      el("span", { text: ` · ${t("observe.station.number", { number: s.number ?? "" })}` }),
      el("span", { class: "muted",
                   text: ` · ${[s.address, s.city, s.region].filter(Boolean).join(", ")}` }))));
  renderMessages();
}

/** Her stations and forms as controls: only when they changed, never under her fingers. */
function renderForms() {
  state.formsShown = state.me?.version;
  const forms = state.me?.forms ?? {};
  refill($("#station"), (state.me?.stations ?? []).map((s) =>
    el("option", { value: s.station_id, text: `${s.station_id} · №${s.number ?? ""}` })));
  refill($("#checklist"), (forms.checklists ?? []).map((c) =>
    el("option", { value: checklistId(c), text: localized(c.label ?? c.title) || checklistId(c) })));
  refill($("#incident-type"), (forms.incident_types ?? []).map((it) =>
    el("option", { value: it.type, text: localized(it.label) || it.type })));
  renderChecklist();
  renderIncident();
}

function refill(select, options) {
  const picked = select.value;
  select.replaceChildren(...options);
  if (options.some((o) => o.value === picked)) select.value = picked;
}

export function station() {
  return state.me?.stations?.find((s) => s.station_id === $("#station").value) ?? null;
}

export function chosenChecklist() {
  const id = $("#checklist").value;
  return (state.me?.forms?.checklists ?? []).find((c) => checklistId(c) === id) ?? null;
}

export function chosenIncidentType() {
  const type = $("#incident-type").value;
  return (state.me?.forms?.incident_types ?? []).find((it) => it.type === type) ?? null;
}

export function renderChecklist(answers = {}) {
  const checklist = chosenChecklist();
  $("[data-testid=checklist-help]").textContent = checklist ? localized(checklist.help) : "";
  $("[data-testid=checklist-questions]").replaceChildren(
    ...(checklist ? checklistControls(checklist, answers) : []));
}

export function renderIncident(payload = {}) {
  const type = chosenIncidentType();
  const onPlace = type !== null && scopeOf(type) === "place";
  $("[data-testid=incident-help]").textContent = type ? localized(type.help) : "";
  $("[data-testid=incident-fields]").replaceChildren(...(type ? incidentControls(type, payload) : []));
  $("[data-testid=incident-place]").hidden = !onPlace;
  $("#place-region").required = onPlace;
  const at = station();
  if (onPlace && at && !$("#place-region").value) {
    $("#place-region").value = at.region ?? "";
    $("#place-city").value = at.city ?? "";
  }
}

/** Open one report form (closing the other); its time seen starts as now. */
export function openForm(id) {
  state.openedAt = new Date();
  showForm(id);
  for (const input of document.querySelectorAll("input[type=datetime-local]")) {
    input.value = localInput(state.openedAt);
    input.max = localInput(new Date(Date.now() + 86_400_000));
  }
}

export function closeForms() {
  showForm(null);
}

function showForm(id) {
  for (const opener of document.querySelectorAll("[aria-controls]")) {
    const controlled = opener.getAttribute("aria-controls");
    opener.setAttribute("aria-expanded", String(controlled === id));
    document.getElementById(controlled).hidden = controlled !== id;
  }
}

export function renderPhotos() {
  $("[data-testid=photo-previews]").replaceChildren(...state.photos.map((photo, i) => {
    const remove = el("button", { type: "button", class: "link", text: t("observe.photos.remove") });
    remove.addEventListener("click", () => {
      state.photos.splice(i, 1);
      renderPhotos();
    });
    return el("li", {}, photo.preview
      ? el("img", { src: photo.preview, alt: t("observe.photos.alt", { n: i + 1 }) })
      : el("span", { text: t("observe.photos.kept", { n: i + 1 }) }), remove);
  }));
}
