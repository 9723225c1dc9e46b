// The report forms, built from what GET /v1/observer/me sent (checklists and incident types
// with the JSON schema of their payload), and the envelopes saved from them.
import { has, localized, t } from "./i18n.js";

export const SOURCE = "observe-app";
const LONG_TEXT = 200;

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "text") node.textContent = value;
    else if (name === "class") node.className = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

/** When something was seen: the phone's clock, as ISO 8601 with its UTC offset. */
export function withOffset(date) {
  const pad = (n, width = 2) => String(Math.abs(n)).padStart(width, "0");
  const minutes = -date.getTimezoneOffset();
  const sign = minutes >= 0 ? "+" : "-";
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}` +
    `.${pad(date.getMilliseconds(), 3)}${sign}${pad(Math.trunc(minutes / 60))}:${pad(minutes % 60)}`;
}

/** The value of a datetime-local input for `date` (minutes, local time). */
export function localInput(date) {
  return withOffset(date).slice(0, 16);
}

export function envelope({ type, version, occurredAt, me, stationId, place, evidence, payload }) {
  return {
    event_id: crypto.randomUUID(), type, schema_version: version,
    occurred_at: withOffset(occurredAt), source: SOURCE,
    ...(me?.election?.election_id ? { election_id: me.election.election_id } : {}),
    ...(place ? { place } : { station_id: stationId }),
    ...(evidence?.length ? { evidence: evidence.map((sha256) => ({ sha256 })) } : {}),
    payload,
  };
}

// ---- checklists ----------------------------------------------------------------------------
// A checklist as /v1/observer/me sends it: {checklist_id, version, label, help, questions:
// [{id, type, required, label, options: [{value, label}], minimum, maximum}]}, every label
// {kk, ru, en}.

export const checklistId = (checklist) => checklist.checklist_id ?? checklist.id;

const choices = (question) => (question.type === "boolean"
  ? [{ value: true, label: null, key: "observe.yes" }, { value: false, label: null, key: "observe.no" }]
  : (question.options ?? []).map((o) => (typeof o === "object" ? o : { value: o, label: null })));

const choiceLabel = (choice) => localized(choice.label) || (choice.key ? t(choice.key)
  : has(`observe.option.${choice.value}`) ? t(`observe.option.${choice.value}`) : String(choice.value));

/** The questions of a checklist as form controls, each labelled by its question. */
export function checklistControls(checklist, answers = {}) {
  return (checklist.questions ?? []).map((q) => {
    const id = `q-${checklistId(checklist)}-${q.id}`;
    const required = q.required !== false;
    const text = localized(q.label ?? q.text) || q.id;
    if (q.type === "boolean" || q.type === "choice") {
      return el("fieldset", { class: "question", "data-question": q.id },
        el("legend", { text }),
        ...choices(q).map((choice, i) => el("label", { class: "choice" },
          el("input", { type: "radio", name: id, id: `${id}-${i}`, value: JSON.stringify(choice.value),
                        required, checked: answers[q.id] === choice.value }),
          el("span", { text: choiceLabel(choice) }))));
    }
    const input = q.type === "integer"
      ? el("input", { type: "number", id, name: id, required, min: q.minimum, max: q.maximum,
                      step: 1, inputmode: "numeric" })
      : el("input", { type: "text", id, name: id, required, maxlength: q.maxLength ?? 500 });
    if (answers[q.id] !== undefined) input.value = String(answers[q.id]);
    return el("div", { class: "question", "data-question": q.id },
      el("label", { for: id, text }), input);
  });
}

/** Her answers, typed as the checklist says (unanswered optional questions left out). */
export function checklistAnswers(checklist, form) {
  const answers = {};
  for (const q of checklist.questions ?? []) {
    const id = `q-${checklistId(checklist)}-${q.id}`;
    if (q.type === "boolean" || q.type === "choice") {
      const picked = form.querySelector(`input[name="${CSS.escape(id)}"]:checked`);
      if (picked) answers[q.id] = JSON.parse(picked.value);
    } else {
      const value = form.querySelector(`#${CSS.escape(id)}`).value.trim();
      if (value !== "") answers[q.id] = q.type === "integer" ? Number.parseInt(value, 10) : value;
    }
  }
  return answers;
}

// ---- incidents -----------------------------------------------------------------------------

/** Where reports of this type happen: at a station (envelope station_id) or a place. */
export function scopeOf(incidentType) {
  return incidentType.scope ?? incidentType.fields?.["x-saylau"]?.scope ?? "station";
}

export function versionOf(incidentType) {
  return incidentType.schema_version ?? incidentType.version ?? 1;
}

function fieldLabel(name, schema) {
  const given = localized(schema["x-label"] ?? schema.title);
  if (given) return given;
  return has(`observe.field.${name}`) ? t(`observe.field.${name}`) : name.replaceAll("_", " ");
}

/** Whether the app asks for this payload field (the observer's own id it fills in itself; lists
 * of people are personal data the app does not collect). */
function asked(name, schema) {
  const kind = [schema.type].flat()[0];
  return name !== "observer_id" && ["integer", "number", "string", "boolean"].includes(kind);
}

export function incidentControls(incidentType, payload = {}) {
  const schema = incidentType.fields ?? {};
  const required = new Set(schema.required ?? []);
  return Object.entries(schema.properties ?? {}).filter(([name, p]) => asked(name, p)).map(([name, p]) => {
    const id = `f-${name}`;
    const kind = [p.type].flat()[0];
    const label = el("label", { for: id, text: fieldLabel(name, p) });
    let input;
    if (kind === "boolean") {
      input = el("input", { type: "checkbox", id, name, checked: payload[name] === true });
      return el("div", { class: "field field-check", "data-field": name }, input, label);
    }
    if (Array.isArray(p.enum)) {
      input = el("select", { id, name, required: required.has(name) },
        el("option", { value: "", text: "—" }),
        ...p.enum.map((v) => el("option", { value: v, text: has(`observe.option.${v}`) ? t(`observe.option.${v}`) : v })));
    } else if (kind === "integer" || kind === "number") {
      input = el("input", { type: "number", id, name, required: required.has(name), min: p.minimum,
                            max: p.maximum, step: kind === "integer" ? 1 : "any", inputmode: "numeric" });
    } else if ((p.maxLength ?? LONG_TEXT + 1) > LONG_TEXT) {
      input = el("textarea", { id, name, required: required.has(name), maxlength: p.maxLength, rows: 3 });
    } else {
      input = el("input", { type: "text", id, name, required: required.has(name), maxlength: p.maxLength });
    }
    if (payload[name] !== undefined) input.value = String(payload[name]);
    return el("div", { class: "field", "data-field": name }, label, input);
  });
}

export function incidentPayload(incidentType, form, observerId) {
  const schema = incidentType.fields ?? {};
  const payload = {};
  for (const [name, p] of Object.entries(schema.properties ?? {})) {
    if (name === "observer_id") {
      payload.observer_id = observerId;
      continue;
    }
    if (!asked(name, p)) continue;
    const input = form.querySelector(`[name="${CSS.escape(name)}"]`);
    const kind = [p.type].flat()[0];
    if (kind === "boolean") payload[name] = input.checked;
    else if (input.value.trim() === "") continue;
    else if (kind === "integer") payload[name] = Number.parseInt(input.value, 10);
    else if (kind === "number") payload[name] = Number(input.value);
    else payload[name] = input.value.trim();
  }
  return payload;
}
