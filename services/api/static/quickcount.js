// Saylau Watch dashboard, quick-count panel: the sample's turnout estimate with its interval,
// narrowing as sampled stations report, the official figure as a line, and per-region rows.
//
// The estimate is computed by the api at read time (GET /v1/quickcount), so the panel polls
// it; each poll adds a point (stations reported → estimate and interval) to the chart.
"use strict";

(() => {
  const params = new URLSearchParams(location.search);
  const LANGS = { en: "en-GB", kk: "kk-KZ", ru: "ru-RU" };
  const LANG = params.get("lang") in LANGS ? params.get("lang") : "en";
  const POLL_MS = 5000;
  const W = 640, H = 200, PAD = 34;

  const panel = document.querySelector("[data-testid=quickcount]");
  if (!panel) return;
  const election = params.get("election") || panel.dataset.election;
  const $ = (selector) => panel.querySelector(selector);
  const history = new Map(); // reported → {estimate, ci_low, ci_high}
  let labels = {};
  const t = (key, vars = {}) =>
    (labels[key] ?? key).replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
  const pct = (n) => (n === null || n === undefined ? "–"
    : `${new Intl.NumberFormat(LANGS[LANG], { maximumFractionDigits: 1,
                                              minimumFractionDigits: 1 }).format(n)} %`);

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
    node.append(...children);
    return node;
  }

  function svg(tag, attrs = {}, text = null) {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
    if (text !== null) node.textContent = text;
    return node;
  }

  async function poll() {
    try {
      // same origin: the sign-in session cookie authorises the read (no key in the page)
      const reply = await fetch(`/v1/quickcount?${new URLSearchParams({ election_id: election })}`,
                                { credentials: "same-origin" });
      panel.hidden = reply.status === 403; // national statistics: not a coordinator's
      if (reply.status === 401 || reply.status === 403) {
        return; // signed out (the dashboard shows the sign-in form), or bound to regions
      } else if (reply.status === 404) {
        render(null);
      } else if (reply.ok) {
        render(await reply.json());
      }
    } catch (error) {
      $("[data-testid=quickcount-status]").textContent = error.message;
    } finally {
      setTimeout(poll, POLL_MS);
    }
  }

  function interval(e) {
    return e && e.estimate !== null ? `${pct(e.estimate)} (${pct(e.ci_low)}–${pct(e.ci_high)})`
      : "–";
  }

  function render(qc) {
    const status = $("[data-testid=quickcount-status]");
    if (!qc) {
      status.textContent = t("quickcount.no_sample", { election });
      return;
    }
    const { sample, turnout, official } = qc;
    status.textContent = t("quickcount.sample", {
      reported: sample.reported, stations: sample.stations,
      confidence: Math.round(100 * turnout.confidence) });
    $("[data-testid=quickcount-estimate]").textContent = interval(turnout);
    $("[data-testid=quickcount-official]").textContent = official ? pct(official.turnout) : "–";
    if (turnout.estimate !== null) history.set(sample.reported, turnout);
    chart($("[data-testid=quickcount-chart]"), sample.stations, official);
    const rows = qc.regions.map((r) => el("tr", {},
      el("td", {}, r.region),
      el("td", { class: "num" }, `${r.reported}/${r.sampled}`),
      el("td", { class: "num" }, interval(r.turnout)),
      el("td", { class: "num" }, r.official ? pct(r.official.turnout) : "–")));
    $("[data-testid=quickcount-regions] tbody").replaceChildren(...rows);
    const alerts = qc.discrepancies.map((d) => el("li", { class: "qc-alert" },
      t("quickcount.discrepancy", { scope: d.region || t("quickcount.national"),
                                    official: pct(d.official), low: pct(d.ci_low),
                                    high: pct(d.ci_high) })));
    $("[data-testid=quickcount-discrepancies]").replaceChildren(...alerts);
  }

  function chart(box, stations, official) {
    const points = [...history.entries()].sort((a, b) => a[0] - b[0]);
    const values = points.flatMap(([, e]) => [e.ci_low, e.ci_high]);
    if (official) values.push(official.turnout);
    if (!values.length) {
      box.replaceChildren();
      return;
    }
    const low = Math.max(0, Math.floor(Math.min(...values) / 5) * 5);
    const high = Math.min(100, Math.ceil(Math.max(...values) / 5) * 5 || 5);
    const x = (n) => PAD + (W - 2 * PAD) * n / Math.max(1, stations);
    const y = (v) => H - PAD + (2 * PAD - H) * (v - low) / Math.max(1, high - low);
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img",
                              "aria-label": t("quickcount.chart") });
    for (const v of [low, (low + high) / 2, high]) {
      root.append(svg("line", { x1: PAD, x2: W - PAD, y1: y(v), y2: y(v), class: "qc-grid" }),
                  svg("text", { x: 2, y: y(v) + 4, class: "qc-axis" }, `${v}`));
    }
    root.append(svg("text", { x: W - PAD, y: H - 6, class: "qc-axis", "text-anchor": "end" },
                    t("quickcount.axis", { stations })));
    if (points.length) {
      const band = [...points.map(([n, e]) => `${x(n)},${y(e.ci_high)}`),
                    ...points.reverse().map(([n, e]) => `${x(n)},${y(e.ci_low)}`)];
      points.reverse();
      root.append(svg("polygon", { points: band.join(" "), class: "qc-band" }),
                  svg("polyline", { points: points.map(([n, e]) => `${x(n)},${y(e.estimate)}`)
                    .join(" "), class: "qc-estimate" }));
    }
    if (official) {
      root.append(svg("line", { x1: PAD, x2: W - PAD, y1: y(official.turnout),
                                y2: y(official.turnout), class: "qc-official" }),
                  svg("text", { x: W - PAD, y: y(official.turnout) - 4, class: "qc-official-label",
                                "text-anchor": "end" },
                      t("quickcount.official_line", { value: pct(official.turnout) })));
    }
    box.replaceChildren(root);
  }

  async function main() {
    const reply = await fetch(`/static/i18n/${LANG}.json`);
    labels = reply.ok ? await reply.json() : {};
    for (const node of panel.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
    poll();
  }

  main();
})();
