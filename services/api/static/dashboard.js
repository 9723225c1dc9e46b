// Saylau Watch dashboard: a REST snapshot, then the live change stream (SSE) on top of it.
//
// The snapshot's cursor comes from /v1/timeline, read in the same database snapshot as the
// report counts; the stream resumes from it, so no change is missed or counted twice.
// Every label comes from /static/i18n/<lang>.json.
//
// Sign-in: the key is posted once to /v1/session, which answers with an HttpOnly session
// cookie; this script never holds the key afterwards and never puts it in a URL. An account
// signs in with its login and password instead (account.js switches the form). Fetches and
// the EventSource send the cookie by themselves (same origin).
"use strict";

(() => {
  const params = new URLSearchParams(location.search);
  const LANGS = { en: "en-GB", kk: "kk-KZ", ru: "ru-RU" };
  const LANG = params.get("lang") in LANGS ? params.get("lang") : "en";
  const TZ = "Asia/Almaty";
  const BUCKET_MINUTES = 10;
  const RANGES_HOURS = [1, 3, 6, 12, 24];
  const DEFAULT_RANGE_HOURS = 6;
  const FEED_SIZE = 60;
  const STATION_ROWS = 200;
  const RENDER_EVERY_MS = 150;
  const RETRY_MS = 3000;
  const COVERAGE_EVERY_MS = 60000; // a station falls silent by the clock, not by a change

  const $ = (selector) => document.querySelector(selector);
  let labels = {};
  const t = (key, vars = {}) =>
    (labels[key] ?? key).replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
  const fmt = (n) => new Intl.NumberFormat(LANGS[LANG]).format(n);
  const clock = (options) => new Intl.DateTimeFormat(LANGS[LANG], { timeZone: TZ, ...options });
  const hhmm = clock({ hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  const dayTime = clock({ day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
                          hourCycle: "h23" });
  const dayOnly = clock({ day: "numeric", month: "long", year: "numeric" });

  const state = {
    cursor: 0, cities: new Map(), stations: new Map(), breaches: new Map(),
    regions: new Set(), buckets: new Map(), notCounted: new Set(),
    sort: { key: "total", dir: -1 }, regionFilter: "", updated: null, latest: null,
    rangeHours: Number(localStorage.getItem("saylau.rangeHours")) || DEFAULT_RANGE_HOURS,
    coverage: null,
  };
  const dirty = new Set();
  const flashed = new Set();
  let renderTimer = null;
  let source = null;

  // ---- helpers -------------------------------------------------------------------------
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else node.setAttribute(name, value === true ? "" : value);
    }
    node.append(...children.filter((c) => c !== null && c !== undefined));
    return node;
  }

  function svg(tag, attrs = {}, text = null) {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
    if (text !== null) node.textContent = text;
    return node;
  }

  class SignedOut extends Error {}

  async function api(path) {
    const reply = await fetch(path, { credentials: "same-origin" });
    if (reply.status === 401) throw new SignedOut(path);
    if (!reply.ok) throw new Error(`${path}: HTTP ${reply.status}`);
    return reply.json();
  }

  // every page of a keyset-paged list (`next` is null on the last page)
  async function allPages(path, key) {
    const items = [];
    for (let url = path; url;) {
      const page = await api(url);
      items.push(...page[key]);
      url = page.next ? `${path}&cursor=${encodeURIComponent(page.next)}` : null;
    }
    return { [key]: items };
  }

  const cityKey = (c) => `${c.region}\u241f${c.city}`;
  const normaliseBreach = (b) =>
    ({ ...b, region: b.region ?? b.place?.region ?? null, city: b.city ?? b.place?.city ?? null });
  const bucketOf = (iso) => {
    const size = BUCKET_MINUTES * 60000;
    return Math.floor(Date.parse(iso) / size) * size;
  };

  function mark(...panels) {
    panels.forEach((p) => dirty.add(p));
    if (renderTimer === null) renderTimer = setTimeout(render, RENDER_EVERY_MS);
  }

  // ---- labels --------------------------------------------------------------------------
  async function loadLabels() {
    const reply = await fetch(`/static/i18n/${LANG}.json`);
    labels = await reply.json();
    document.documentElement.lang = LANG;
    for (const node of document.querySelectorAll("[data-i18n]")) {
      node.textContent = t(node.dataset.i18n);
    }
    $("[data-testid=timeline-title]").textContent = t("timeline.title", { minutes: BUCKET_MINUTES });
    renderLanguages();
  }

  function renderLanguages() {
    const nav = $("[data-testid=languages]");
    nav.replaceChildren(...Object.keys(LANGS).map((code) => {
      const next = new URLSearchParams(location.search);
      next.set("lang", code);
      return el("a", { href: `?${next}`, lang: code, "aria-current": code === LANG && "true",
                       text: code.toUpperCase() });
    }));
  }

  // ---- connection indicator ------------------------------------------------------------
  function setConnection(name, detail = "") {
    const box = $("[data-testid=connection]");
    if (box.dataset.state !== name && name === "reconnecting") {
      detail = t("conn.since", { time: hhmmLocal(new Date()) });
    }
    box.dataset.state = name;
    $("[data-testid=connection-label]").textContent = t(`conn.${name}`);
    $("[data-testid=connection-detail]").textContent = detail;
  }

  const hhmmLocal = (date) =>
    date.toLocaleTimeString(LANGS[LANG], { hour: "2-digit", minute: "2-digit", second: "2-digit" });

  function banner(text) {
    const node = $("[data-testid=banner]");
    node.textContent = text || "";
    node.hidden = !text;
  }

  // ---- snapshot ------------------------------------------------------------------------
  async function loadSnapshot() {
    const timeline = await api(`/v1/timeline?bucket_minutes=${BUCKET_MINUTES}&limit=1000`);
    const [detentions, breaches, stations, regions] = await Promise.all([
      api("/v1/detentions"), allPages("/v1/breaches?limit=1000", "breaches"),
      allPages("/v1/stations?limit=1000", "stations"), api("/v1/regions")]);
    state.cursor = timeline.cursor;
    state.notCounted = new Set(timeline.not_counted);
    state.buckets = new Map(timeline.buckets.map((b) => [Date.parse(b.start), b.reports]));
    state.latest = timeline.latest_report_at ? bucketOf(timeline.latest_report_at) : null;
    state.cities = new Map(detentions.cities.map((c) => [cityKey(c), c]));
    state.breaches = new Map(breaches.breaches.map((b) => [b.breach_id, normaliseBreach(b)]));
    state.stations = new Map(stations.stations.map((s) => [s.station_id, s]));
    state.regions = new Set(regions.regions.map((r) => r.region));
    state.updated = new Date();
    mark("kpis", "detentions", "breaches", "stations", "regions", "timeline", "footer");
  }

  // Observer coverage of the election running now (none: /v1/coverage answers 422).
  async function loadCoverage() {
    const reply = await fetch("/v1/coverage", { credentials: "same-origin" }).catch(() => null);
    state.coverage = reply && reply.ok ? await reply.json() : null;
    mark("silent");
  }

  async function start() {
    setConnection("connecting");
    loadCoverage();
    try {
      await loadSnapshot();
      banner("");
      clearTimeout(renderTimer);
      render(); // the snapshot is on screen before the stream can say "live"
    } catch (error) {
      if (error instanceof SignedOut) {
        showSignIn();
        return;
      }
      banner(t("app.load_failed", { error: error.message }));
      setConnection("reconnecting");
      setTimeout(start, RETRY_MS);
      return;
    }
    follow();
  }

  // ---- live stream ---------------------------------------------------------------------
  function follow() {
    if (source) source.close();
    const query = new URLSearchParams({ cursor: String(state.cursor) });
    source = new EventSource(`/v1/live?${query}`);
    source.addEventListener("hello", () => setConnection("catching_up"));
    source.addEventListener("caught_up", (e) => {
      const { missed } = JSON.parse(e.data);
      setConnection("live", t("conn.caught_up", { missed: fmt(missed) }));
    });
    source.addEventListener("change", (e) => apply(JSON.parse(e.data)));
    source.addEventListener("resync", () => {
      source.close();
      setConnection("resyncing");
      start();
    });
    source.onerror = () => {
      setConnection("reconnecting");
      if (source.readyState === EventSource.CLOSED) setTimeout(resume, RETRY_MS);
    };
  }

  async function resume() {
    // An EventSource closes on any HTTP error: a 401 means the session ended.
    const who = await fetch("/v1/session", { credentials: "same-origin" }).catch(() => null);
    if (who && who.status === 401) showSignIn();
    else follow();
  }

  const APPLY = {
    detentions(d) {
      state.cities.set(cityKey(d), d);
      flashed.add(`city:${cityKey(d)}`);
      state.regions.add(d.region);
      mark("kpis", "detentions", "regions");
    },
    station(d) {
      if (d.total > 0) state.stations.set(d.station_id, d);
      else state.stations.delete(d.station_id);
      flashed.add(`station:${d.station_id}`);
      if (d.region) state.regions.add(d.region);
      mark("kpis", "stations", "regions");
    },
    breach(d) {
      const breach = normaliseBreach(d);
      state.breaches.set(breach.breach_id, breach);
      flashed.add(`breach:${breach.breach_id}`);
      if (breach.region) state.regions.add(breach.region);
      mark("kpis", "breaches", "regions");
    },
    breach_withdrawn(d) {
      const breach = state.breaches.get(d.breach_id);
      if (breach) breach.status = "withdrawn";
      mark("kpis", "breaches", "regions");
    },
    event(d) {
      if (state.notCounted.has(d.type)) return;
      const bucket = bucketOf(d.occurred_at);
      state.buckets.set(bucket, (state.buckets.get(bucket) || 0) + 1);
      state.latest = bucket; // the chart follows the report received last
      mark("timeline");
    },
  };

  function apply(change) {
    if (change.cursor <= state.cursor) return; // already part of the snapshot
    state.cursor = change.cursor;
    state.updated = new Date();
    (APPLY[change.kind] || (() => {}))(change.data);
    mark("footer");
  }

  // ---- rendering -----------------------------------------------------------------------
  function render() {
    renderTimer = null;
    const panels = [...dirty];
    dirty.clear();
    for (const panel of panels) RENDER[panel]();
    for (const node of document.querySelectorAll("[data-flash-key]")) {
      if (flashed.has(node.dataset.flashKey)) node.classList.add("flash");
    }
    flashed.clear();
  }

  const openBreaches = () => [...state.breaches.values()].filter((b) => b.status === "open");

  const RENDER = {
    kpis() {
      const cities = [...state.cities.values()];
      const sum = (field) => cities.reduce((total, c) => total + c[field], 0);
      $("[data-testid=kpi-detained-now]").textContent = fmt(sum("detained_now"));
      $("[data-testid=kpi-detained-total]").textContent = fmt(sum("detained_total"));
      $("[data-testid=kpi-open-breaches]").textContent = fmt(openBreaches().length);
      $("[data-testid=kpi-stations]").textContent = fmt(state.stations.size);
    },

    detentions() {
      const rows = [...state.cities.values()]
        .filter((c) => c.detained_total || c.released_total)
        .sort((a, b) => b.detained_now - a.detained_now || b.detained_total - a.detained_total
                        || a.city.localeCompare(b.city));
      $(".detentions .empty").hidden = rows.length > 0;
      $("[data-testid=detentions] tbody").replaceChildren(...rows.map(cityRow));
    },

    breaches() {
      const all = [...state.breaches.values()]
        .sort((a, b) => Date.parse(b.occurred_at) - Date.parse(a.occurred_at)
                        || (a.status === "open" ? -1 : 1));
      const items = all.slice(0, FEED_SIZE).map(breachItem);
      if (all.length > FEED_SIZE) {
        items.push(el("li", { class: "more", text: t("breaches.more", { count: all.length - FEED_SIZE }) }));
      }
      $(".breaches .empty").hidden = all.length > 0;
      $("[data-testid=breaches]").replaceChildren(...items);
    },

    stations() {
      renderRegionFilter();
      const { key, dir } = state.sort;
      const all = [...state.stations.values()]
        .filter((s) => !state.regionFilter || s.region === state.regionFilter)
        .sort((a, b) => dir * compare(a[key], b[key]) || a.station_id.localeCompare(b.station_id));
      $(".stations .empty").hidden = all.length > 0;
      $("[data-testid=stations] tbody").replaceChildren(...all.slice(0, STATION_ROWS).map(stationRow));
      $("[data-testid=stations-count]").textContent =
        t("stations.shown", { shown: fmt(Math.min(all.length, STATION_ROWS)), total: fmt(all.length) });
      for (const th of document.querySelectorAll("[data-testid=stations] th[data-sort]")) {
        th.setAttribute("aria-sort", th.dataset.sort !== key ? "none"
                                     : dir > 0 ? "ascending" : "descending");
      }
    },

    regions() {
      const tiles = regionSummaries();
      const worst = Math.max(1, ...tiles.map((r) => r.incidents + r.breaches + r.detained_now));
      const grid = $("[data-testid=regions]");
      if (!tiles.length) {
        grid.replaceChildren(el("p", { class: "empty", text: t("regions.empty") }));
        return;
      }
      grid.replaceChildren(...tiles.map((r) => regionTile(r, worst)));
    },

    timeline() {
      renderTimeline($("[data-testid=timeline-chart]"));
    },

    silent() {
      const coverage = state.coverage;
      const silent = coverage ? coverage.stations.filter((s) => s.silent) : [];
      $("[data-testid=silent-summary]").textContent = !coverage ? t("silent.no_election")
        : t("silent.summary", { silent: fmt(silent.length), stations: fmt(coverage.stations.length),
                                minutes: fmt(coverage.silent_minutes) });
      $("[data-testid=silent-stations]").replaceChildren(...silent.slice(0, FEED_SIZE).map(silentItem));
    },

    footer() {
      $("[data-testid=cursor]").textContent = t("footer.cursor", { cursor: fmt(state.cursor) });
      $("[data-testid=updated]").textContent =
        state.updated ? t("footer.updated", { time: hhmmLocal(state.updated) }) : "";
    },
  };

  const compare = (a, b) =>
    typeof a === "number" && typeof b === "number" ? a - b : String(a ?? "").localeCompare(String(b ?? ""));

  function cityRow(c) {
    return el("tr", { "data-testid": "city-row", "data-city": c.city, "data-region": c.region,
                      "data-flash-key": `city:${cityKey(c)}` },
      el("td", {}, el("span", { class: "name", text: c.city }),
         el("span", { class: "sub", text: c.region })),
      el("td", { class: "num big", "data-testid": "city-detained-now", text: fmt(c.detained_now) }),
      el("td", { class: "num", "data-testid": "city-detained-total", text: fmt(c.detained_total) }),
      el("td", { class: "num muted", "data-testid": "city-released", text: fmt(c.released_total) }));
  }

  function legalRef(ref) {
    if (!ref) return el("span", { class: "legal alert", text: t("breaches.alert") });
    const where = [t("legal.article", { article: ref.article }),
                   ref.part ? t("legal.part", { part: ref.part }) : null].filter(Boolean).join(", ");
    return el("span", { class: "legal", title: ref.text, "data-testid": "breach-legal-ref" },
      el("abbr", { title: t(`code.${ref.code}`), text: ref.code }), ` ${where}`);
  }

  function breachItem(b) {
    const place = [b.region, b.city, b.station_id && t("breaches.station", { station: b.station_id })]
      .filter(Boolean).join(" · ");
    return el("li", { class: `breach sev-${b.severity} ${b.status}`, "data-testid": "breach",
                      "data-breach-id": b.breach_id, "data-status": b.status,
                      "data-flash-key": `breach:${b.breach_id}` },
      el("div", { class: "breach-head" },
        el("span", { class: "badge", "data-testid": "breach-severity", "data-severity": b.severity,
                     text: t(`severity.${b.severity}`) }),
        el("span", { class: "title", text: b.title }),
        b.status === "withdrawn" ? el("span", { class: "tag", text: t("breaches.withdrawn") }) : null),
      el("div", { class: "breach-meta" }, legalRef(b.legal_ref),
        el("span", { class: "place", text: place }),
        el("time", { datetime: b.occurred_at, text: dayTime.format(new Date(b.occurred_at)) })),
      b.legal_ref ? el("p", { class: "legal-text", text: b.legal_ref.text }) : null);
  }

  // ---- one station's reports, with evidence thumbnails (privacy derivatives) -----------
  // <img> and links carry the session cookie (same origin): no key in any URL.
  const evidenceUrl = (sha) => `/v1/evidence/${encodeURIComponent(sha)}`;

  function evidenceLink(f) {
    const label = f.caption ?? f.media_type ?? "";
    const shown = f.derivative_sha256
      ? el("img", { src: evidenceUrl(f.derivative_sha256), alt: label, loading: "lazy",
                    class: "thumb", "data-testid": "evidence-thumb" })
      : el("span", { class: "file-kind",
                     text: t(f.media_type === "video/mp4" ? "evidence.video" : "evidence.document") });
    return el("a", { href: evidenceUrl(f.derivative_sha256 ?? f.sha256), target: "_blank",
                     rel: "noopener", title: label, "data-testid": "evidence-file",
                     "data-sha256": f.sha256 }, shown);
  }

  function stationEvent(e) {
    const files = e.evidence_files ?? [];
    return el("li", { class: "item", "data-testid": "station-event", "data-event": e.event_id },
      el("div", { class: "row" },
        el("span", { class: "title", text: e.type }),
        el("time", { datetime: e.occurred_at, text: dayTime.format(new Date(e.occurred_at)) }),
        el("span", { class: "muted", "data-testid": "station-event-status", text: e.status })),
      files.length ? el("div", { class: "evidence" }, ...files.map(evidenceLink)) : null,
      ...triageLines(e.triage));
  }

  // who did each triage action: `actor` is the server's (login or key partner), `by` the
  // operator's own signature (free text), shown beside it when it differs
  function triageLines(triage) {
    if (!triage) return [];
    const line = (kind, actor, by, note) => el("p", { class: "muted", "data-testid": "triage-action",
      text: [t(`triage.${kind}`, { actor }), by && by !== actor ? `(${by})` : "", note ?? ""]
        .filter(Boolean).join(" ") });
    const claim = triage.claimed_actor
      ? [line("claimed", triage.claimed_actor, triage.claimed_by)] : [];
    return [...claim, ...triage.notes.filter((n) => n.kind !== "claimed")
      .map((n) => line(n.kind, n.actor, n.by, n.note))];
  }

  async function showStation(stationId) {
    const data = await api(`/v1/stations/${encodeURIComponent(stationId)}/timeline`);
    $("[data-testid=station-timeline-title]").textContent =
      t("station_timeline.title", { station: stationId });
    $("[data-testid=station-timeline-events]").replaceChildren(...data.events.map(stationEvent));
    $(".station-timeline .empty").hidden = data.events.length > 0;
    $("[data-testid=station-timeline]").dataset.station = stationId;
    $("[data-testid=station-timeline]").hidden = false;
  }

  function stationRow(s) {
    return el("tr", { "data-testid": "station-row", "data-station": s.station_id, tabindex: "0",
                      "data-flash-key": `station:${s.station_id}` },
      el("td", { class: "name", text: s.station_id }),
      el("td", { text: s.region ?? "" }),
      el("td", { text: s.city ?? "" }),
      el("td", { class: "num big", "data-testid": "station-total", text: fmt(s.total) }),
      el("td", { class: "muted", text: s.last_event_at ? dayTime.format(new Date(s.last_event_at)) : "" }));
  }

  function renderRegionFilter() {
    const select = $("[data-testid=station-region-filter]");
    const names = [...new Set([...state.stations.values()].map((s) => s.region).filter(Boolean))].sort();
    if (state.regionFilter && !names.includes(state.regionFilter)) names.push(state.regionFilter);
    const wanted = ["", ...names].join("\n");
    if (select.dataset.options === wanted) return;
    select.dataset.options = wanted;
    select.replaceChildren(el("option", { value: "", text: t("stations.all_regions") }),
      ...names.map((n) => el("option", { value: n, text: n })));
    select.value = state.regionFilter;
  }

  function regionSummaries() {
    const by = new Map([...state.regions].filter(Boolean).map((name) => [name,
      { region: name, stations: 0, incidents: 0, detained_now: 0, breaches: 0 }]));
    const get = (name) => by.get(name) ?? by.set(name, { region: name, stations: 0, incidents: 0,
                                                          detained_now: 0, breaches: 0 }).get(name);
    for (const s of state.stations.values()) {
      if (!s.region) continue;
      get(s.region).stations += 1;
      get(s.region).incidents += s.total;
    }
    for (const c of state.cities.values()) get(c.region).detained_now += c.detained_now;
    for (const b of openBreaches()) if (b.region) get(b.region).breaches += 1;
    return [...by.values()].sort((a, b) => a.region.localeCompare(b.region));
  }

  function regionTile(r, worst) {
    const heat = (r.incidents + r.breaches + r.detained_now) / worst;
    const stat = (value, label, testid) =>
      el("div", { class: "stat" }, el("b", { "data-testid": testid, text: fmt(value) }),
         el("span", { text: label }));
    const tile = el("article", { class: "region", "data-testid": "region", "data-region": r.region },
      el("h3", { text: r.region }),
      el("div", { class: "stats" },
        stat(r.detained_now, t("regions.detained_now"), "region-detained-now"),
        stat(r.breaches, t("regions.breaches"), "region-breaches"),
        stat(r.stations, t("regions.stations"), "region-stations"),
        stat(r.incidents, t("regions.incidents"), "region-incidents")));
    tile.style.setProperty("--heat", heat.toFixed(3)); // CSSOM, not a style attribute (CSP)
    return tile;
  }

  // ---- timeline chart (inline SVG) -----------------------------------------------------
  function renderTimeline(box) {
    const total = [...state.buckets.values()].reduce((a, b) => a + b, 0);
    box.dataset.total = String(total);
    if (!state.buckets.size) {
      box.replaceChildren(el("p", { class: "empty", text: t("timeline.empty") }));
      return;
    }
    const size = BUCKET_MINUTES * 60000;
    const count = (state.rangeHours * 60) / BUCKET_MINUTES;
    const last = state.latest ?? Math.max(...state.buckets.keys());
    const starts = Array.from({ length: count }, (_, i) => last - (count - 1 - i) * size);
    box.dataset.end = new Date(last).toISOString();
    box.dataset.buckets = String(count);
    const counts = starts.map((s) => state.buckets.get(s) || 0);
    box.replaceChildren(chart(starts, counts), el("p", { class: "chart-note muted" },
      `${dayOnly.format(new Date(last))} · ${t("timeline.peak", { count: fmt(Math.max(...counts)) })}`));
  }

  function chart(starts, counts) {
    const W = 900, H = 250, left = 40, right = 24, bottom = 26, top = 12;
    const max = niceMax(Math.max(...counts));
    const plotH = H - bottom - top;
    const step = (W - left - right) / counts.length;
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", class: "chart-svg",
                              "aria-label": t("timeline.title", { minutes: BUCKET_MINUTES }) });
    for (let i = 0; i <= 4; i += 1) {
      const y = top + plotH - (plotH * i) / 4;
      root.append(svg("line", { x1: left, x2: W - right, y1: y, y2: y, class: "grid-line" }),
                  svg("text", { x: left - 6, y: y + 4, class: "axis", "text-anchor": "end" },
                      fmt((max * i) / 4)));
    }
    counts.forEach((count, i) => {
      const h = (plotH * count) / max;
      const x = left + i * step + step * 0.12;
      const bar = svg("rect", { x, y: top + plotH - h, width: step * 0.76, height: Math.max(h, 0),
                                rx: 2, class: i === counts.length - 1 ? "bar bar-now" : "bar",
                                "data-start": new Date(starts[i]).toISOString(), "data-count": count });
      bar.append(svg("title", {}, `${hhmm.format(new Date(starts[i]))} · ${fmt(count)}`));
      root.append(bar);
      if (i % Math.max(1, Math.round(counts.length / 6)) === 0 || i === counts.length - 1) {
        root.append(svg("text", { x: x + step * 0.38, y: H - 8, class: "axis", "text-anchor": "middle" },
                        hhmm.format(new Date(starts[i]))));
      }
    });
    return root;
  }

  const niceMax = (n) => {
    if (n <= 4) return 4;
    const magnitude = 10 ** Math.floor(Math.log10(n));
    return [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((m) => m >= n);
  };

  // ---- controls ------------------------------------------------------------------------
  function bindControls() {
    for (const th of document.querySelectorAll("[data-testid=stations] th[data-sort]")) {
      th.tabIndex = 0;
      const sortBy = () => {
        const key = th.dataset.sort;
        const numeric = key === "total" || key === "last_event_at";
        state.sort = state.sort.key === key ? { key, dir: -state.sort.dir } : { key, dir: numeric ? -1 : 1 };
        mark("stations");
      };
      th.addEventListener("click", sortBy);
      th.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") sortBy(); });
    }
    const body = $("[data-testid=stations] tbody");
    const openRow = (e) => {
      const row = e.target.closest("tr[data-station]");
      if (row) showStation(row.dataset.station).catch((err) => console.warn(err));
    };
    body.addEventListener("click", openRow);
    body.addEventListener("keydown", (e) => { if (e.key === "Enter") openRow(e); });
    $("[data-testid=station-region-filter]").addEventListener("change", (e) => {
      state.regionFilter = e.target.value;
      mark("stations");
    });
    const range = $("[data-testid=timeline-range]");
    if (!RANGES_HOURS.includes(state.rangeHours)) state.rangeHours = DEFAULT_RANGE_HOURS;
    range.replaceChildren(...RANGES_HOURS.map((h) =>
      el("option", { value: String(h), text: t("timeline.hours", { hours: h }) })));
    range.value = String(state.rangeHours);
    range.addEventListener("change", () => {
      state.rangeHours = Number(range.value);
      localStorage.setItem("saylau.rangeHours", range.value);
      mark("timeline");
    });
    $("[data-testid=sign-in-form]").addEventListener("submit", signIn);
    $("[data-testid=sign-out]").addEventListener("click", signOut);
  }

  // ---- sign-in -------------------------------------------------------------------------
  function showSignIn(message = "") {
    if (source) source.close();
    source = null;
    setConnection("offline");
    banner("");
    document.body.classList.add("signed-out");
    $("[data-testid=sign-in]").hidden = false;
    $("[data-testid=sign-out]").hidden = true;
    for (const id of ["signed-in-as", "signed-in-role", "signed-in-regions"]) {
      $(`[data-testid=${id}]`).textContent = "";
    }
    document.dispatchEvent(new CustomEvent("saylau:signed-out"));
    const error = $("[data-testid=sign-in-error]");
    error.textContent = message;
    error.hidden = !message;
    const first = $("[data-testid=sign-in-by-key]").disabled ? "sign-in-login" : "sign-in-key";
    $(`[data-testid=${first}]`).focus();
  }

  function showSignedIn(who) {
    document.body.classList.remove("signed-out");
    $("[data-testid=sign-in]").hidden = true;
    $("[data-testid=sign-out]").hidden = false;
    $("[data-testid=signed-in-as]").textContent = t("signin.as", { partner: who.login ?? who.partner });
    $("[data-testid=signed-in-role]").textContent = who.role ? t(`role.${who.role}`) : "";
    $("[data-testid=signed-in-regions]").textContent = who.regions
      ? t("signin.regions", { regions: who.regions.join(", ") }) : t("signin.whole_country");
    document.dispatchEvent(new CustomEvent("saylau:signed-in", { detail: who }));
  }

  function signInBody() {
    // a key, or an account's login and password (account.js switches the form's fieldsets)
    if ($("[data-testid=sign-in-by-key]").disabled) {
      return { login: $("[data-testid=sign-in-login]").value.trim(),
               password: $("[data-testid=sign-in-password]").value };
    }
    return { key: $("[data-testid=sign-in-key]").value.trim() };
  }

  async function signIn(event) {
    event.preventDefault();
    const reply = await fetch("/v1/session", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(signInBody()),
    }).catch((error) => ({ ok: false, status: error.message }));
    // neither the key nor the password is kept anywhere on the page
    $("[data-testid=sign-in-key]").value = "";
    $("[data-testid=sign-in-password]").value = "";
    if (!reply.ok) {
      showSignIn(t("signin.failed", { error: `HTTP ${reply.status}` }));
      return;
    }
    showSignedIn(await reply.json());
    start();
  }

  async function signOut() {
    await fetch("/v1/session", { method: "DELETE", credentials: "same-origin" }).catch(() => null);
    state.cities.clear(); state.stations.clear(); state.breaches.clear();
    state.buckets.clear(); state.regions.clear();
    mark("kpis", "detentions", "breaches", "stations", "regions", "timeline");
    showSignIn();
  }

  function silentItem(station) {
    const heard = station.last_report_at
      ? t("silent.last", { time: hhmm.format(new Date(station.last_report_at)) }) : t("silent.never");
    return el("li", { "data-testid": "silent-station" }, el("strong", { text: station.station_id }),
              ` ${station.region ?? ""} · ${heard}`);
  }

  async function main() {
    if (params.get("wall") === "1") {
      document.documentElement.classList.add("wall"); // rem-based sizes grow with it
      document.body.classList.add("wall");
    }
    await loadLabels();
    bindControls();
    const who = await fetch("/v1/session", { credentials: "same-origin" }).catch(() => null);
    if (who && who.status === 401) {
      showSignIn();
      return;
    }
    if (who && who.ok) showSignedIn(await who.json());
    start();
    setInterval(loadCoverage, COVERAGE_EVERY_MS);
  }

  main();
})();
