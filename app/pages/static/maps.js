// Street maps for the consoles (issue 15): Leaflet from the app (PyPI xstatic-leaflet), tiles from the URL
// template the street configured (CIRCLE_TILE_URL). With no tiles or no Leaflet, callers keep their plain
// drawing. Positions are WGS84 throughout (AMap's GCJ-02 tiles are refused by the server).
import { el } from "./common.js";

export function tiles() {
  const url = document.body.dataset.tiles || "";
  return url && window.L ? { url, attribution: document.body.dataset.tileAttribution || "" } : null;
}

function baseMap(container, centre, zoom) {
  const t = tiles();
  const map = window.L.map(container, { zoomControl: true, attributionControl: true, keyboard: true });
  window.L.tileLayer(t.url, { maxZoom: 19, attribution: t.attribution, subdomains: "01234567" }).addTo(map);
  map.setView(centre, zoom);
  return map;
}

/** A map with one draggable pin (the elder's home); `onMove(lat, lon)` after each drag. Null without tiles. */
export function pickerMap(container, { lat, lon, onMove }) {
  if (!tiles()) return null;
  const map = baseMap(container, [lat, lon], 17);
  const pin = window.L.marker([lat, lon], { draggable: true, autoPan: true, title: "住址位置（可拖动）", alt: "住址位置" }).addTo(map);
  pin.on("dragend", () => { const p = pin.getLatLng(); onMove(+p.lat.toFixed(6), +p.lng.toFixed(6)); });
  map.on("click", e => { pin.setLatLng(e.latlng); onMove(+e.latlng.lat.toFixed(6), +e.latlng.lng.toFixed(6)); });
  return { map, moveTo(la, lo) { pin.setLatLng([la, lo]); map.setView([la, lo], 17); } };
}

/** Stops grouped by building (same position to ~5 m): one marker per building, numbered in visit order. */
export function groupStops(stops) {
  const groups = new Map();
  for (const s of stops) {
    const key = `${s.lat.toFixed(4)},${s.lon.toFixed(4)}`;
    if (!groups.has(key)) groups.set(key, { lat: s.lat, lon: s.lon, stops: [] });
    groups.get(key).stops.push(s);
  }
  return [...groups.values()];
}

/** A route map: each route's line and its stops (grouped by building, ≥ 14 px labels). Null without tiles. */
export function routeMap(container, { centre, radius_m, routes, unassigned = [], onSelect }) {
  if (!tiles()) return null;
  const map = baseMap(container, [centre.lat, centre.lon], 16);
  if (radius_m) window.L.circle([centre.lat, centre.lon], { radius: radius_m, color: "#0a5a52", weight: 2, dashArray: "6 6", fill: false, interactive: false }).addTo(map);
  const bounds = [[centre.lat, centre.lon]];
  for (const route of routes) {
    const line = [route.home, ...route.stops].map(p => [p.lat, p.lon]);
    window.L.polyline(line, { color: route.colour, weight: 4, opacity: .85, interactive: false }).addTo(map);
    for (const group of groupStops(route.stops)) {
      const label = group.stops.map(s => s.order).join("·");
      const icon = window.L.divIcon({ className: "stop-icon", html: "", iconSize: null });
      const marker = window.L.marker([group.lat, group.lon], { icon, keyboard: false,
        title: group.stops.map(s => s.title).join("；") }).addTo(map);
      const badge = marker.getElement();
      if (badge) { badge.textContent = label; badge.style.background = route.colour; }
      if (onSelect) marker.on("click", () => onSelect(group.stops[0]));
      bounds.push([group.lat, group.lon]);
    }
  }
  for (const u of unassigned) {
    const icon = window.L.divIcon({ className: "stop-icon stop-unassigned", html: "", iconSize: null });
    const marker = window.L.marker([u.lat, u.lon], { icon, keyboard: false, title: u.title }).addTo(map);
    if (marker.getElement()) marker.getElement().textContent = "未";
    bounds.push([u.lat, u.lon]);
  }
  if (bounds.length > 1) map.fitBounds(bounds, { padding: [24, 24] });
  return map;
}

export function mapBox(label) {
  return el("div", { class: "street-map", role: "region", "aria-label": label });
}
