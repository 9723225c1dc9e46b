// Saylau Watch dashboard map: the election's regions coloured by a chosen measure and its
// stations clustered, drawn with Leaflet (npm, served by the api) from the api's GeoJSON
// (/v1/map/regions, /v1/map/stations). No tile server unless SAYLAU_MAP_TILES names one.
//
// It follows dashboard.js through document events: "saylau:snapshot" (signed in, snapshot
// on screen) and "saylau:change" (each live change); it asks dashboard.js to filter the lists
// by a region ("saylau:filter-region") and to open a station's timeline ("saylau:open-station").
// Every label comes from /static/i18n/<lang>.json; text is set with textContent.
"use strict";

(() => {
  const params = new URLSearchParams(location.search);
  const LANGS = { en: "en-GB", kk: "kk-KZ", ru: "ru-RU" };
  const LANG = params.get("lang") in LANGS ? params.get("lang") : "en";
  const MEASURES = ["detained_now", "open_breaches", "reports_last_hour", "silent_stations",
                    "stations"];
  const RAMP = ["#26313d", "#6b4a2b", "#a35a22", "#d8661c", "#ff5d5d"]; // none, then quarters
  const REGIONS_AFTER_MS = 250; // a change is on the map well within a second
  const STATIONS_AFTER_MS = 1000;
  const CLOCK_EVERY_MS = 60000; // reports in the last hour and silence move with the clock
  const KAZAKHSTAN = [[40.5, 46.4], [55.5, 87.4]];
  const CITY_SPAN = 0.8; // degrees: a region no larger also gets a dot of its colour
  const REGION_CHANGES = new Set(["detentions", "station", "breach", "breach_withdrawn", "event"]);
  const STATION_CHANGES = new Set(["station", "breach", "breach_withdrawn", "event"]);

  const $ = (selector) => document.querySelector(selector);
  let labels = {};
  const t = (key, vars = {}) =>
    (labels[key] ?? key).replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
  const fmt = (n) => new Intl.NumberFormat(LANGS[LANG]).format(n);

  const state = {
    map: null, regionLayer: null, shapeKey: "", stationLayer: null, regions: null,
    election: params.get("election") || "", tiles: null, started: false, loading: {},
    measure: MEASURES.includes(localStorage.getItem("saylau.mapMeasure"))
      ? localStorage.getItem("saylau.mapMeasure") : "detained_now",
  };
  const timers = {};

  function text(tag, value, className) {
    const node = document.createElement(tag);
    node.textContent = value;
    if (className) node.className = className;
    return node;
  }

  async function getJSON(path) {
    const reply = await fetch(path, { credentials: "same-origin" });
    if (!reply.ok) throw Object.assign(new Error(`HTTP ${reply.status}`), { status: reply.status });
    return reply.json();
  }

  const electionQuery = () => (state.election ? `?election_id=${encodeURIComponent(state.election)}` : "");

  // The election asked for (?election=), else the one running now, else the panel's own.
  async function fetchRegions() {
    try {
      return await getJSON(`/v1/map/regions${electionQuery()}`);
    } catch (error) {
      const fallback = $("[data-testid=map-panel]").dataset.election;
      if (error.status !== 422 || state.election || !fallback) throw error;
      state.election = fallback;
      return getJSON(`/v1/map/regions${electionQuery()}`);
    }
  }

  // ---- the map ---------------------------------------------------------------------------
  function ensureMap() {
    if (state.map) return;
    state.map = L.map($("[data-testid=map]"), { zoomSnap: 0.25, minZoom: 3, maxZoom: 16 });
    state.map.attributionControl.setPrefix(false);
    state.map.createPane("stations").style.zIndex = "450"; // above the regions, below clusters
    state.map.fitBounds(KAZAKHSTAN);
  }

  function addTiles(template) {
    if (!template || state.tiles === template) return;
    state.tiles = template;
    L.tileLayer(template, { maxZoom: 19 }).addTo(state.map).bringToBack();
  }

  function colour(value, max) {
    if (!value || !max) return RAMP[0];
    return RAMP[Math.min(4, Math.max(1, Math.ceil((4 * value) / max)))];
  }

  function regionStyle(feature, max) {
    const value = feature.properties[state.measure] ?? 0;
    return { color: "#8b9aab", weight: 1, fillOpacity: 0.75, fillColor: colour(value, max),
             dashArray: feature.properties.drawn_as === "circle" ? "4 3" : null };
  }

  function maxOf(features) {
    return Math.max(0, ...features.map((f) => f.properties[state.measure] ?? 0));
  }

  function drawRegions(collection) {
    const drawable = collection.features.filter((f) => f.geometry);
    const key = drawable.map((f) => `${f.id}:${f.properties.drawn_as}`).join("|");
    if (key !== state.shapeKey) {
      if (state.regionLayer) state.regionLayer.remove();
      state.shapeKey = key;
      state.regionLayer = L.geoJSON({ type: "FeatureCollection", features: drawable }, {
        onEachFeature: (feature, layer) => interactive(layer, layer),
      }).addTo(state.map);
      for (const layer of state.regionLayer.getLayers()) { // a city's polygon is a speck
        const span = layer.getBounds();
        if (Math.max(span.getNorth() - span.getSouth(), span.getEast() - span.getWest()) > CITY_SPAN) continue;
        layer.dot = interactive(L.circleMarker(span.getCenter(), {
          radius: 7, weight: 2, color: "#e6edf3", fillOpacity: 0.95 }), layer);
        state.regionLayer.addLayer(layer.dot);
      }
    }
    const byRegion = new Map(drawable.map((f) => [f.properties.region, f]));
    const max = maxOf(drawable);
    state.regionLayer.eachLayer((layer) => {
      if (!layer.feature) return; // a city's dot, styled with its polygon
      const feature = byRegion.get(layer.feature.properties.region);
      layer.feature = feature;
      const style = regionStyle(feature, max);
      layer.setStyle(style);
      label(layer.getElement(), "map-region", feature, style.fillColor);
      if (layer.dot) {
        layer.dot.setStyle({ fillColor: style.fillColor });
        label(layer.dot.getElement(), "map-city", feature, style.fillColor);
      }
    });
  }

  // A region's polygon, or a city's dot: a click filters the lists, a hover names it.
  function interactive(shape, region) {
    shape.on("click", () => document.dispatchEvent(new CustomEvent(
      "saylau:filter-region", { detail: { region: region.feature.properties.region } })));
    shape.bindTooltip(() => text("span", t("map.region", {
      region: region.feature.properties.region,
      value: fmt(region.feature.properties[state.measure] ?? 0) })), { sticky: true });
    return shape;
  }

  function label(path, testid, feature, fill) {
    path.setAttribute("data-testid", testid);
    path.setAttribute("data-region", feature.properties.region);
    path.setAttribute("data-drawn-as", feature.properties.drawn_as);
    path.setAttribute("data-value", String(feature.properties[state.measure] ?? 0));
    path.setAttribute("data-fill", fill);
  }

  async function loadRegions() {
    if (state.loading.regions) return schedule("regions", REGIONS_AFTER_MS, loadRegions);
    state.loading.regions = true;
    try {
      state.regions = await fetchRegions();
      ensureMap();
      addTiles(state.regions.tiles);
      drawRegions(state.regions);
      renderLegend();
      problem("");
    } catch (error) {
      problem(t("map.unavailable", { error: error.message }));
    } finally {
      state.loading.regions = false;
    }
  }

  // ---- stations --------------------------------------------------------------------------
  function stationMarker(feature) {
    const [lon, lat] = feature.geometry.coordinates;
    const p = feature.properties;
    const marker = L.circleMarker([lat, lon], {
      pane: "stations", radius: 5, weight: 1, color: "#0e1318", fillOpacity: 0.9,
      fillColor: p.open_breaches ? "#ff5d5d" : "#4cc2ff", className: "map-station" });
    marker.station = p;
    return marker;
  }

  function stationTooltip(p) {
    const box = document.createElement("span");
    box.append(text("strong", t("map.station", { station: p.station_id, number: p.number ?? "" })),
               document.createElement("br"), text("span", p.address ?? ""));
    if (p.open_breaches) {
      box.append(document.createElement("br"),
                 text("span", t("map.station.breaches", { count: fmt(p.open_breaches) })));
    }
    return box;
  }

  async function loadStations() {
    if (state.loading.stations) return schedule("stations", STATIONS_AFTER_MS, loadStations);
    state.loading.stations = true;
    const began = performance.now();
    try {
      const collection = await getJSON(`/v1/map/stations${electionQuery()}`);
      ensureMap();
      const layer = L.markerClusterGroup({ chunkedLoading: true, showCoverageOnHover: false,
                                           maxClusterRadius: 50 });
      layer.on("click", (e) => document.dispatchEvent(new CustomEvent(
        "saylau:open-station", { detail: { station_id: e.layer.station.station_id } })));
      layer.on("mouseover", (e) => {
        if (!e.layer.getTooltip()) e.layer.bindTooltip(stationTooltip(e.layer.station));
        e.layer.openTooltip();
      });
      layer.addLayers(collection.features.map(stationMarker));
      if (state.stationLayer) state.stationLayer.remove();
      state.stationLayer = layer.addTo(state.map);
      const box = $("[data-testid=map]");
      box.dataset.stations = String(collection.features.length);
      if (!box.dataset.firstDrawMs) {
        await new Promise((done) => requestAnimationFrame(() => done()));
        box.dataset.firstDrawMs = String(Math.round(performance.now() - began));
      }
      renderLegend();
    } catch (error) {
      problem(t("map.unavailable", { error: error.message }));
    } finally {
      state.loading.stations = false;
    }
  }

  // ---- legend ----------------------------------------------------------------------------
  function renderLegend() {
    const legend = $("[data-testid=map-legend]");
    if (!state.regions) return;
    const features = state.regions.features;
    const max = maxOf(features.filter((f) => f.geometry));
    const scale = document.createElement("ul");
    scale.className = "map-scale";
    // class q (colour) holds the values up to q quarters of the largest: floor(q * max / 4)
    const steps = max ? [0, ...[1, 2, 3, 4].map((q) => Math.floor((q * max) / 4))] : [0];
    const shown = [...new Set(steps)];
    for (const [i, value] of shown.entries()) {
      const low = i > 1 ? shown[i - 1] + 1 : 1;
      const item = text("li", value === 0 ? t("map.legend.none")
        : low === value ? fmt(value) : `${fmt(low)}–${fmt(value)}`);
      const swatch = text("span", "", "swatch");
      swatch.style.background = colour(value, max); // CSSOM, not a style attribute (CSP)
      item.prepend(swatch);
      scale.append(item);
    }
    const circles = features.filter((f) => f.properties.drawn_as === "circle")
      .map((f) => f.properties.region);
    const stations = $("[data-testid=map]").dataset.stations ?? "0";
    legend.replaceChildren(
      text("p", t("map.election", { election: state.regions.election_id }), "muted small"),
      scale,
      circles.length ? text("p", t("map.legend.circles", { regions: circles.join(", ") }),
                            "small map-circles") : "",
      text("p", t("map.legend.stations", { count: fmt(Number(stations)) }), "muted small"),
      text("p", t("map.legend.source", { source: state.regions.boundaries }), "muted small"));
    legend.querySelector(".map-circles")?.setAttribute("data-testid", "map-circles");
  }

  function problem(message) {
    const node = $("[data-testid=map-problem]");
    node.textContent = message;
    node.hidden = !message;
  }

  // ---- following the dashboard -----------------------------------------------------------
  function schedule(name, delay, run) {
    if (timers[name]) return;
    timers[name] = setTimeout(() => {
      timers[name] = null;
      run();
    }, delay);
  }

  function onChange(change) {
    if (!state.started) return;
    if (REGION_CHANGES.has(change.kind)) schedule("regions", REGIONS_AFTER_MS, loadRegions);
    if (STATION_CHANGES.has(change.kind) && change.station_id) {
      schedule("stations", STATIONS_AFTER_MS, loadStations);
    }
  }

  function bindMeasure() {
    const select = $("[data-testid=map-measure]");
    select.replaceChildren(...MEASURES.map((m) => {
      const option = text("option", t(`map.measure.${m}`));
      option.value = m;
      return option;
    }));
    select.value = state.measure;
    select.addEventListener("change", () => {
      state.measure = select.value;
      localStorage.setItem("saylau.mapMeasure", select.value);
      if (state.regions) {
        drawRegions(state.regions);
        renderLegend();
      }
    });
  }

  async function loadLabels() {
    labels = await getJSON(`/static/i18n/${LANG}.json`).catch(() => ({}));
    for (const node of $("[data-testid=map-panel]").querySelectorAll("[data-i18n]")) {
      node.textContent = t(node.dataset.i18n);
    }
    bindMeasure();
  }

  function main() {
    const ready = loadLabels();
    document.addEventListener("saylau:change", (e) => onChange(e.detail));
    document.addEventListener("saylau:snapshot", async () => {
      await ready;
      state.started = true;
      loadRegions().then(() => state.map?.invalidateSize());
      loadStations();
    });
    setInterval(() => state.started && loadRegions(), CLOCK_EVERY_MS);
  }

  main();
})();
