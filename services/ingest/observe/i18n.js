// Labels in kk, ru and en from the language files the dashboard uses too (keys `observe.*`).
export const LANGUAGES = { kk: "kk-KZ", ru: "ru-RU", en: "en-GB" };
const CHOSEN = "saylau.observe.lang";

function chosenLanguage() {
  const asked = new URLSearchParams(location.search).get("lang");
  if (asked in LANGUAGES) {
    localStorage.setItem(CHOSEN, asked);
    return asked;
  }
  const kept = localStorage.getItem(CHOSEN);
  if (kept in LANGUAGES) return kept;
  const phone = (navigator.language || "en").slice(0, 2);
  return phone in LANGUAGES ? phone : "en";
}

export const LANG = chosenLanguage();
let labels = {};

export async function loadLabels() {
  const reply = await fetch(`/observe/i18n/${LANG}.json`);
  labels = await reply.json();
  document.documentElement.lang = LANG;
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
}

export function has(key) {
  return key in labels;
}

export function t(key, vars = {}) {
  return (labels[key] ?? key).replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
}

/** A text the server sent in several languages ({kk, ru, en}), or a plain string. */
export function localized(text) {
  if (text === null || text === undefined) return "";
  if (typeof text !== "object") return String(text);
  return text[LANG] ?? text.en ?? text.ru ?? text.kk ?? Object.values(text)[0] ?? "";
}

export function formatTime(iso) {
  return new Intl.DateTimeFormat(LANGUAGES[LANG], {
    day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  }).format(new Date(iso));
}
