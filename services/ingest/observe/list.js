// The list "Reports on this phone": each report with its state (queued, sent, rejected), the
// server's reason for a rejected one and why a queued one waits. Its buttons carry data-action;
// app.js handles them.
import { el } from "./forms.js";
import { formatTime, localized, t } from "./i18n.js";
import { QUEUED, REJECTED, SENT } from "./outbox.js";
import { $, active, state } from "./state.js";

export function titleOf(report) {
  return report.title?.key ? t(report.title.key) : localized(report.title?.text) || report.kind;
}

export function unsent() {
  return state.reports.filter((r) => r.state !== SENT).length;
}

export function renderQueue() {
  const reports = state.reports;
  $("[data-testid=queue]").hidden = reports.length === 0 && !active();
  const count = (s) => reports.filter((r) => r.state === s).length;
  const summary = [t("observe.queue.counts", { queued: count(QUEUED), sent: count(SENT),
                                              rejected: count(REJECTED) })];
  if (count(QUEUED) && state.waiting === "network") summary.push(t("observe.queue.no_network"));
  if (count(QUEUED) && state.waiting === "server" && state.nextAt) {
    summary.push(t("observe.queue.retry_at", { time: formatTime(new Date(state.nextAt).toISOString()) }));
  }
  $("[data-testid=queue-summary]").textContent = summary.join(" · ");
  $("[data-testid=reports]").replaceChildren(...reports.map(reportItem));
}

function reportItem(report) {
  const item = el("li", { class: `report ${report.state}`, "data-testid": "report",
                          "data-state": report.state, "data-event-id": report.event_id,
                          "data-outcome": report.outcome },
    el("span", { class: "state", "data-testid": "report-state", text: t(`observe.state.${report.state}`) }),
    el("strong", { text: titleOf(report) }),
    el("span", { class: "muted", text: ` · ${report.where ?? ""} · ${formatTime(report.saved_at)}` }));
  const note = noteOf(report);
  if (note) item.append(el("p", { class: "reason", "data-testid": "report-reason", text: note }));
  if (report.state === REJECTED) {
    item.append(el("div", { class: "buttons" },
      el("button", { type: "button", class: "secondary", "data-action": "correct",
                     disabled: !active() || !state.me, text: t("observe.report.correct") }),
      el("button", { type: "button", class: "secondary danger", "data-action": "discard",
                     text: t("observe.report.discard") })));
  }
  return item;
}

function noteOf(report) {
  if (report.state === SENT) {
    return t(report.outcome === "duplicate" ? "observe.outcome.duplicate" : "observe.outcome.accepted");
  }
  if (report.state === REJECTED) {
    return t(report.conflict ? "observe.report.conflict" : "observe.report.rejected",
             { status: report.status, reason: report.reason ?? "" });
  }
  if (state.session?.status === "revoked") {
    return t("observe.report.held_revoked", { reason: state.session.reason ?? "" });
  }
  return active() ? null : t("observe.report.held_signin");
}
