// map.js — a canvas map of the fleet without tiles: country outlines from world-atlas
// (Natural Earth 1:50m TopoJSON, an npm data package copied to /ui/vendor/ at build time),
// decoded by topojson-client, drawn in an equirectangular projection scaled by cos(latitude)
// around the points shown, which is accurate enough for a city-sized fleet.

let countriesPromise = null;

// The country polygons as arrays of rings of [lon, lat], each with its bounding box.
function countries() {
  if (!countriesPromise) {
    countriesPromise = fetch('/ui/vendor/countries-50m.json')
      .then(r => { if (!r.ok) throw new Error('map outlines: HTTP ' + r.status); return r.json(); })
      .then(topo => {
        const fc = window.topojson.feature(topo, topo.objects.countries);
        const rings = [];
        for (const f of fc.features) {
          const g = f.geometry;
          if (!g) continue;
          const polys = g.type === 'Polygon' ? [g.coordinates] : g.coordinates;
          for (const poly of polys) for (const ring of poly) {
            let x0 = 180, x1 = -180, y0 = 90, y1 = -90;
            for (const [x, y] of ring) { x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y); }
            rings.push({ ring, box: [x0, y0, x1, y1] });
          }
        }
        return rings;
      });
  }
  return countriesPromise;
}

export class FleetMap {
  // canvas: the element; onPick(point) when a point is clicked; onHover(point|null, event).
  constructor(canvas, { onPick, onHover } = {}) {
    this.canvas = canvas;
    this.points = [];   // {lat, lon, color, id, label}
    this.track = null;  // [[lat, lon], ...] drawn as a line
    this.view = null;
    this.rings = null;
    this.error = null;
    countries().then(r => { this.rings = r; this.draw(); }, e => { this.error = e.message; this.draw(); });
    canvas.addEventListener('click', e => { const p = this.pick(e); if (p && onPick) onPick(p); });
    canvas.addEventListener('mousemove', e => onHover && onHover(this.pick(e), e));
    canvas.addEventListener('mouseleave', e => onHover && onHover(null, e));
    this.resize = () => this.draw();
    window.addEventListener('resize', this.resize);
  }

  destroy() { window.removeEventListener('resize', this.resize); }

  setData(points, track = null) {
    this.points = points;
    this.track = track;
    this.fit();
    this.draw();
  }

  // The view: the points' bounding box with a margin, at least 0.2 degrees across.
  fit() {
    const lats = [], lons = [];
    for (const p of this.points) { lats.push(p.lat); lons.push(p.lon); }
    for (const [lat, lon] of this.track || []) { lats.push(lat); lons.push(lon); }
    if (!lats.length) { this.view = null; return; }
    let lat0 = Math.min(...lats), lat1 = Math.max(...lats), lon0 = Math.min(...lons), lon1 = Math.max(...lons);
    const padLat = Math.max(0.1, (lat1 - lat0) * 0.08), padLon = Math.max(0.1, (lon1 - lon0) * 0.08);
    this.view = { lat0: lat0 - padLat, lat1: lat1 + padLat, lon0: lon0 - padLon, lon1: lon1 + padLon };
  }

  // Projection for the canvas' current size: returns [x(lon), y(lat)] functions.
  projection(w, hgt) {
    const v = this.view;
    const k = Math.cos(((v.lat0 + v.lat1) / 2) * Math.PI / 180);
    const spanX = (v.lon1 - v.lon0) * k, spanY = v.lat1 - v.lat0;
    const scale = Math.min(w / spanX, hgt / spanY);
    const cx = (v.lon0 + v.lon1) / 2, cy = (v.lat0 + v.lat1) / 2;
    return [lon => w / 2 + (lon - cx) * k * scale, lat => hgt / 2 - (lat - cy) * scale, scale, k];
  }

  draw() {
    const c = this.canvas, dpr = window.devicePixelRatio || 1;
    const w = c.clientWidth, hgt = c.clientHeight;
    if (!w || !hgt) return;
    c.width = Math.round(w * dpr); c.height = Math.round(hgt * dpr);
    const g = c.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.fillStyle = '#dce9f5';
    g.fillRect(0, 0, w, hgt);
    if (!this.view) {
      g.fillStyle = '#6b7685';
      g.fillText(this.error || 'no positions to show', 12, 20);
      return;
    }
    const [px, py, scale, k] = this.projection(w, hgt);
    this.px = px; this.py = py;
    const lonMin = this.view.lon0 - w / scale / k, lonMax = this.view.lon1 + w / scale / k;
    const latMin = this.view.lat0 - hgt / scale, latMax = this.view.lat1 + hgt / scale;
    if (this.rings) {
      g.fillStyle = '#f3f1ea'; g.strokeStyle = '#a9b3bf'; g.lineWidth = 1;
      for (const { ring, box } of this.rings) {
        if (box[2] < lonMin || box[0] > lonMax || box[3] < latMin || box[1] > latMax) continue;
        g.beginPath();
        ring.forEach(([x, y], i) => (i ? g.lineTo(px(x), py(y)) : g.moveTo(px(x), py(y))));
        g.closePath(); g.fill(); g.stroke();
      }
    }
    this.grid(g, w, hgt, px, py);
    if (this.track && this.track.length > 1) {
      g.strokeStyle = '#2463c9'; g.lineWidth = 2; g.beginPath();
      this.track.forEach(([lat, lon], i) => (i ? g.lineTo(px(lon), py(lat)) : g.moveTo(px(lon), py(lat))));
      g.stroke();
    }
    for (const p of this.points) {
      g.beginPath();
      g.arc(px(p.lon), py(p.lat), p.radius || 4, 0, 2 * Math.PI);
      g.fillStyle = p.color; g.fill();
      g.strokeStyle = '#fff'; g.lineWidth = 1; g.stroke();
    }
  }

  // Graticule every 0.1 degree with labels, so distances can be read without tiles.
  grid(g, w, hgt, px, py) {
    const v = this.view, step = (v.lat1 - v.lat0) > 2 ? 1 : 0.1;
    g.strokeStyle = 'rgba(80,100,130,0.15)'; g.fillStyle = '#6b7685'; g.font = '10px sans-serif';
    for (let lat = Math.ceil(v.lat0 / step) * step; lat <= v.lat1; lat += step) {
      const y = py(lat); g.beginPath(); g.moveTo(0, y); g.lineTo(w, y); g.stroke();
      g.fillText(lat.toFixed(1) + '°N', 4, y - 2);
    }
    for (let lon = Math.ceil(v.lon0 / step) * step; lon <= v.lon1; lon += step) {
      const x = px(lon); g.beginPath(); g.moveTo(x, 0); g.lineTo(x, hgt); g.stroke();
      g.fillText(lon.toFixed(1) + '°E', x + 2, hgt - 4);
    }
  }

  // The point under the mouse (within 7 px), or null.
  pick(e) {
    if (!this.view || !this.px) return null;
    const r = this.canvas.getBoundingClientRect();
    const x = e.clientX - r.left, y = e.clientY - r.top;
    let best = null, bestD = 49;
    for (const p of this.points) {
      const dx = this.px(p.lon) - x, dy = this.py(p.lat) - y, d = dx * dx + dy * dy;
      if (d < bestD) { best = p; bestD = d; }
    }
    return best;
  }
}
