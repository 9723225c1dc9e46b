// Saving reports on the phone: arrival and departure, checklists, incidents with photos; a
// rejected report corrected as a new one, or discarded; the unsent ones saved as a file.
import {
  checklistAnswers, checklistId, el, envelope, incidentPayload, localInput, scopeOf, versionOf,
} from "./forms.js";
import { t } from "./i18n.js";
import { discardReport, exportUnsent, saveReport } from "./outbox.js";
import { preparePhoto } from "./photos.js";
import { $, state } from "./state.js";
import { refreshReports, requestBackgroundSync, send } from "./sync.js";
import {
  chosenChecklist, chosenIncidentType, closeForms, openForm, renderChecklist, renderIncident,
  renderPhotos, renderQueue, station, titleOf,
} from "./view.js";

/** The report gets its event_id here and is never changed afterwards. */
async function save(built, summary, photos = []) {
  const report = await saveReport(envelope({ me: state.me, ...built }), { ...summary, photos });
  $("[data-testid=saved-note]").textContent = t("observe.saved", { title: titleOf(report) });
  await refreshReports();
  renderQueue();
  requestBackgroundSync();
  send({ force: true });
}

export async function onPresence(type) {
  const at = station();
  if (!at) return;
  await save({ type, version: 1, occurredAt: new Date(), stationId: at.station_id,
               payload: { observer_id: state.session.observer_id } },
             { kind: type, title: { key: `observe.kind.${type}` }, where: at.station_id });
}

/** The time she saw it: the moment she opened the form, unless she changed the field. */
function seenAt(input) {
  return input.value === localInput(state.openedAt) ? state.openedAt : new Date(input.value);
}

export async function onChecklist(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const checklist = chosenChecklist();
  const at = station();
  if (!checklist || !at) return;
  const payload = { checklist_id: checklistId(checklist), version: checklist.version,
                    observer_id: state.session.observer_id,
                    answers: checklistAnswers(checklist, form) };
  await save({ type: "checklist.submitted", version: 1, occurredAt: seenAt($("#checklist-when")),
               stationId: at.station_id, payload },
             { kind: "checklist.submitted", where: at.station_id,
               title: { text: checklist.label ?? checklist.title ?? checklistId(checklist) } });
  form.reset();
  closeForms();
}

export async function onIncident(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const type = chosenIncidentType();
  const onPlace = type !== null && scopeOf(type) === "place";
  const place = onPlace ? placeOf() : null;
  const at = station();
  if (!type || (!onPlace && !at)) return;
  const photos = state.photos;
  await save({ type: type.type, version: versionOf(type), occurredAt: seenAt($("#incident-when")),
               stationId: at?.station_id, place, evidence: photos.map((p) => p.sha256),
               payload: incidentPayload(type, form, state.session.observer_id) },
             { kind: type.type, title: { text: type.label ?? type.type },
               where: place ? [place.city, place.region].filter(Boolean).join(", ") : at.station_id },
             photos);
  form.reset();
  state.photos = [];
  renderPhotos();
  closeForms();
}

function placeOf() {
  const region = $("#place-region").value.trim();
  const city = $("#place-city").value.trim();
  return { region, ...(city ? { city } : {}) };
}

export async function onPhotos(event) {
  const input = event.currentTarget;
  for (const file of input.files) state.photos.push(await preparePhoto(file));
  input.value = "";
  renderPhotos();
}

/** A new report with the rejected one's answers, for her to correct and save. */
export function onCorrect(report) {
  const sent = JSON.parse(report.body);
  if (sent.type === "checklist.submitted") {
    openForm("checklist-form");
    $("#checklist").value = sent.payload.checklist_id;
    renderChecklist(sent.payload.answers);
  } else {
    openForm("incident-form");
    $("#incident-type").value = sent.type;
    renderIncident(sent.payload);
    $("#place-region").value = sent.place?.region ?? $("#place-region").value;
    $("#place-city").value = sent.place?.city ?? $("#place-city").value;
    state.photos = (sent.evidence ?? []).map((e) => ({ sha256: e.sha256, name: e.sha256 }));
    renderPhotos();
  }
  if (sent.station_id) $("#station").value = sent.station_id;
  $("[data-testid=saved-note]").textContent = t("observe.report.correcting");
}

/** Asked twice: the first press only changes the button. */
export async function onDiscard(report, button) {
  if (button.dataset.confirming !== "yes") {
    button.dataset.confirming = "yes";
    button.textContent = t("observe.report.discard_confirm");
    return;
  }
  await discardReport(report.event_id);
  await refreshReports();
  renderQueue();
}

export async function onExport() {
  const unsent = await exportUnsent();
  const file = new Blob([JSON.stringify(unsent, null, 2)], { type: "application/json" });
  const stamp = unsent.exported_at.replace(/[:.]/g, "");
  const link = el("a", { href: URL.createObjectURL(file),
                         download: `saylau-reports-${unsent.observer_id ?? "observer"}-${stamp}.json` });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}
