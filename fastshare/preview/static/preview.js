/* fastshare preview: the page's behaviour. Plain JavaScript, no build step, no dependencies.
 *
 * - Long-polls api/state (the server answers at once on a change, else after a second) and
 *   rebuilds the form, the target picker and the grid when the template's version changes.
 * - Renders every visible target with POST api/image/<target>.<ext>?v=<version>: the body holds
 *   the form's data, the answer is the image (its byte size and X-Render-Ms shown under it).
 *   A newer round aborts the older one; a failed render keeps the last good image.
 * - With "Outline layer boxes" on, POST api/boxes gives each layer's box in pixels; they are
 *   drawn as outlined boxes in % of the frame, so they follow the display scale.
 */
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const PALETTE = ["#e11d48", "#16a34a", "#2563eb", "#ca8a04", "#9333ea", "#0891b2",
    "#ea580c", "#db2777", "#4d7c0f", "#4f46e5"];
  const FORMAT_LABEL = { png: "PNG", jpeg: "JPEG", webp: "WebP" };
  const EXTENSION = { png: "png", jpeg: "jpg", webp: "webp" };
  const GAP = 16;
  const CARD_PAD = 18;
  const MIN_READABLE = 0.18;
  const BOX_BORDER = 2;

  let state = null;
  let revision = -1;
  let version = 0;
  let round = 0;
  let renderTimer = 0;
  let imageController = null;
  let boxController = null;
  let retryTimer = 0;
  let fieldCounter = 0;
  const cards = new Map();

  // ------------------------------------------------------------------ helpers

  function make(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function sleep(ms) { return new Promise((resolve) => setTimeout(resolve, ms)); }

  function formatBytes(n) {
    if (n < 1024) return n + " B";
    if (n < 1024 * 1024) return (n / 1024).toFixed(n < 10240 ? 1 : 0) + " KB";
    return (n / 1048576).toFixed(2) + " MB";
  }

  function setStatus(text, kind) {
    const node = $("status");
    node.textContent = text;
    node.className = "status" + (kind ? " " + kind : "");
  }

  function currentFormat() {
    const checked = document.querySelector('input[name="format"]:checked');
    return checked ? checked.value : "png";
  }

  async function readError(resp) {
    try {
      const body = await resp.json();
      return { message: body.message || body.code || ("HTTP " + resp.status), field: body.field };
    } catch (e) {
      return { message: "HTTP " + resp.status, field: null };
    }
  }

  // ------------------------------------------------------------------ form

  function fieldValueText(field) {
    if (field.kind === "json") return JSON.stringify(field.value);
    if (field.value === null || field.value === undefined) return "";
    return String(field.value);
  }

  function makeField(field) {
    const id = "field-" + (++fieldCounter);
    const wrap = make("div", "field");
    wrap.dataset.name = field.name;
    wrap.dataset.kind = field.kind;
    const label = make("label");
    label.htmlFor = id;
    label.append(field.name);
    const notes = [];
    if (field.required) notes.push("required");
    if (field.kind !== "text") notes.push(field.kind);
    if (field.image) notes.push("image file name");
    if (notes.length) label.append(" ", make("span", "req", "(" + notes.join(", ") + ")"));
    const text = fieldValueText(field);
    const input = text.length > 48 || text.includes("\n") ? make("textarea") : make("input");
    if (input.tagName === "INPUT") input.type = "text";
    else input.rows = Math.min(4, Math.max(2, Math.ceil(text.length / 34)));
    input.id = id;
    input.name = field.name;
    input.value = text;
    input.spellcheck = false;
    input.addEventListener("input", () => scheduleRender(40));
    wrap.append(label, input);
    return wrap;
  }

  function buildFields(fields) {
    const list = $("field-list");
    const existing = new Map();
    list.querySelectorAll(".field").forEach((node) => existing.set(node.dataset.name, node));
    const keep = new Set();
    fields.forEach((field) => {
      keep.add(field.name);
      const node = existing.get(field.name) || makeField(field);
      list.appendChild(node);
    });
    existing.forEach((node, name) => { if (!keep.has(name)) node.remove(); });
    $("fields-empty").hidden = fields.length > 0;
  }

  function collectData() {
    const data = {};
    $("field-list").querySelectorAll(".field").forEach((node) => {
      const input = node.querySelector("input, textarea");
      const raw = input.value;
      if (raw === "") return;
      let value = raw;
      const kind = node.dataset.kind;
      if (kind === "number" && raw.trim() !== "" && Number.isFinite(Number(raw))) {
        value = Number(raw);
      } else if (kind === "boolean" && (raw === "true" || raw === "false")) {
        value = raw === "true";
      } else if (kind === "json") {
        try { value = JSON.parse(raw); } catch (e) { value = raw; }
      }
      data[node.dataset.name] = value;
    });
    return data;
  }

  function markInvalid(fields) {
    $("field-list").querySelectorAll(".field").forEach((node) => {
      const bad = fields.has(node.dataset.name);
      node.classList.toggle("invalid", bad);
      const input = node.querySelector("input, textarea");
      if (bad) input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
    });
  }

  // ------------------------------------------------------------------ targets and grid

  function targetLabel(t) { return t.spec + " — " + t.width + " × " + t.height; }

  function buildTargetPicker() {
    const select = $("target");
    const current = select.value || "all";
    const own = state.template.targets;
    select.textContent = "";
    const all = make("option", "", "all targets of the template (" + own.length + ")");
    all.value = "all";
    select.appendChild(all);
    const mine = make("optgroup");
    mine.label = "this template's targets";
    own.forEach((t) => { const o = make("option", "", targetLabel(t)); o.value = t.spec; mine.appendChild(o); });
    select.appendChild(mine);
    if (state.presets.length) {
      const others = make("optgroup");
      others.label = "other presets";
      state.presets.forEach((t) => { const o = make("option", "", targetLabel(t)); o.value = t.spec; others.appendChild(o); });
      select.appendChild(others);
    }
    select.value = current;
    if (select.value !== current) select.value = "all";
  }

  function visibleTargets() {
    if (!state || !state.template) return [];
    const choice = $("target").value || "all";
    const own = state.template.targets;
    if (choice === "all") return own;
    const found = own.concat(state.presets).find((t) => t.spec === choice);
    return found ? [found] : own;
  }

  function makeCard(t) {
    const fig = make("figure", "card");
    fig.dataset.target = t.spec;
    fig.dataset.seq = "0";
    const caption = make("figcaption");
    const scale = make("span", "scale");
    caption.append(make("span", "name", t.spec), make("span", "size", t.width + " × " + t.height + " px"), scale);
    const frame = make("div", "frame");
    const img = make("img");
    img.alt = t.spec + " preview, " + t.width + " × " + t.height + " pixels";
    img.width = t.width;
    img.height = t.height;
    const boxes = make("div", "boxes");
    boxes.setAttribute("aria-hidden", "true");
    frame.append(img, boxes);
    const meta = make("p", "meta", "not rendered yet");
    const error = make("p", "error");
    error.hidden = true;
    error.setAttribute("role", "alert");
    fig.append(caption, frame, meta, error);
    return { target: t, fig, img, frame, boxes, meta, error, scale, url: null, seq: 0 };
  }

  function buildGrid() {
    const grid = $("grid");
    const targets = visibleTargets();
    const keep = new Set(targets.map((t) => t.spec));
    cards.forEach((card, spec) => {
      if (!keep.has(spec)) {
        card.fig.remove();
        if (card.url) URL.revokeObjectURL(card.url);
        cards.delete(spec);
      }
    });
    targets.forEach((t) => {
      let card = cards.get(t.spec);
      if (card && (card.target.width !== t.width || card.target.height !== t.height)) {
        card.fig.remove();
        cards.delete(t.spec);
        card = null;
      }
      if (!card) {
        card = makeCard(t);
        cards.set(t.spec, card);
      }
      grid.appendChild(card.fig);
    });
    $("empty").hidden = targets.length > 0;
    layoutScale();
  }

  function layoutScale() {
    const targets = visibleTargets();
    if (!targets.length) return;
    const avail = Math.max(120, $("grid").clientWidth);
    const zoom = $("zoom").value;
    const widest = Math.max.apply(null, targets.map((t) => t.width));
    const fitWidth = (avail - CARD_PAD) / widest;
    let s;
    if (zoom !== "fit") {
      s = Number(zoom);
    } else if (targets.length === 1) {
      const t = targets[0];
      const room = Math.max(240, window.innerHeight - 150);
      s = Math.min(1, fitWidth, room / t.height);
    } else {
      // all in one row if that stays readable, else two per row, else one per row
      const total = targets.reduce((sum, t) => sum + t.width, 0);
      const row = (avail - targets.length * CARD_PAD - (targets.length - 1) * GAP) / total;
      const pair = (avail - 2 * CARD_PAD - GAP) / (2 * widest);
      if (row >= MIN_READABLE) s = Math.min(row, 0.5);
      else if (pair >= MIN_READABLE) s = Math.min(pair, 0.5);
      else s = Math.min(0.5, fitWidth);
    }
    s = Math.max(0.05, s);
    targets.forEach((t) => {
      const card = cards.get(t.spec);
      if (!card) return;
      card.fig.style.width = (Math.round(t.width * s) + CARD_PAD) + "px";
      const shown = Math.min(1, (avail - CARD_PAD) / (t.width * s)) * s;
      card.scale.textContent = "shown at " + Math.round(shown * 100) + " %";
    });
    if ($("outlines").checked) requestAnimationFrame(separateAllLabels);
  }

  // ------------------------------------------------------------------ rendering

  function scheduleRender(delay) {
    clearTimeout(renderTimer);
    renderTimer = setTimeout(renderAll, delay);
  }

  function retryLater(seconds) {
    clearTimeout(retryTimer);
    retryTimer = setTimeout(() => scheduleRender(0), Math.max(250, seconds * 1000));
  }

  async function renderAll() {
    if (!state || !state.template) return;
    if (imageController) imageController.abort();
    imageController = new AbortController();
    const signal = imageController.signal;
    const mine = ++round;
    const data = collectData();
    const body = JSON.stringify({ data: data });
    const fmt = currentFormat();
    const targets = visibleTargets();
    const invalid = new Set();
    const jobs = targets.map((t) => renderOne(t, fmt, body, signal, mine, invalid));
    if ($("outlines").checked) jobs.push(loadBoxes());
    await Promise.allSettled(jobs);
    if (mine === round) {
      markInvalid(invalid);
      document.body.dataset.rounds = String(mine);
    }
  }

  function showCardError(card, message) {
    card.error.textContent = message;
    card.error.hidden = false;
    card.fig.classList.add("failed");
    card.fig.classList.remove("pending");
    card.fig.dataset.status = "error";
  }

  async function renderOne(t, fmt, body, signal, mine, invalid) {
    const card = cards.get(t.spec);
    if (!card) return;
    card.fig.classList.add("pending");
    const url = "api/image/" + encodeURIComponent(t.spec) + "." + EXTENSION[fmt] + "?v=" + version;
    let resp;
    try {
      resp = await fetch(url, { method: "POST", body: body, signal: signal, cache: "no-store",
        headers: { "Content-Type": "application/json" } });
    } catch (e) {
      if (e.name !== "AbortError") showCardError(card, "the preview server did not answer: is it still running?");
      return;
    }
    if (mine !== round) return;
    if (!resp.ok) {
      const err = await readError(resp);
      if (mine !== round) return;
      if (resp.status === 503) {
        showCardError(card, "the render workers are busy or starting; retrying…");
        retryLater(Number(resp.headers.get("Retry-After") || "1"));
        return;
      }
      if (err.field) invalid.add(String(err.field).replace(/^data\./, ""));
      showCardError(card, err.message + " (the last good image stays)");
      return;
    }
    let blob;
    try { blob = await resp.blob(); } catch (e) { return; }
    if (mine !== round) return;
    const objectUrl = URL.createObjectURL(blob);
    const loader = new Image();
    loader.src = objectUrl;
    try { await loader.decode(); } catch (e) { /* shown below as a broken image */ }
    if (mine !== round) { URL.revokeObjectURL(objectUrl); return; }
    const old = card.url;
    card.img.src = objectUrl;
    card.url = objectUrl;
    if (old) URL.revokeObjectURL(old);
    const ms = Number(resp.headers.get("X-Render-Ms") || "0");
    const waited = Number(resp.headers.get("X-Queue-Ms") || "0");
    const phases = (resp.headers.get("X-Phases") || "").replace(/=/g, " ").replace(/([\d.]+)/g,
      (v) => Number(v).toFixed(1) + " ms");
    card.meta.textContent = "";
    card.meta.append(make("strong", "", FORMAT_LABEL[fmt]), " · " + formatBytes(blob.size) +
      " · rendered in " + ms.toFixed(ms < 10 ? 1 : 0) + " ms");
    card.meta.title = "in the render worker: " + (phases || ms.toFixed(1) + " ms") +
      "; waited " + waited.toFixed(1) + " ms for a worker";
    card.error.hidden = true;
    card.error.textContent = "";
    card.fig.classList.remove("failed", "pending");
    card.seq += 1;
    const ds = card.fig.dataset;
    ds.seq = String(card.seq);
    ds.status = "ok";
    ds.bytes = String(blob.size);
    ds.format = fmt;
    ds.renderMs = String(ms);
    ds.version = resp.headers.get("X-Preview-Version") || "";
  }

  // ------------------------------------------------------------------ layer outlines

  async function loadBoxes() {
    if (!state || !state.template) return;
    if (boxController) boxController.abort();
    boxController = new AbortController();
    const signal = boxController.signal;
    const targets = visibleTargets();
    const body = JSON.stringify({ targets: targets.map((t) => t.spec), data: collectData() });
    let resp;
    try {
      resp = await fetch("api/boxes?v=" + version, { method: "POST", body: body, signal: signal,
        cache: "no-store", headers: { "Content-Type": "application/json" } });
    } catch (e) {
      return;
    }
    if (!resp.ok) {
      if (resp.status === 503) retryLater(Number(resp.headers.get("Retry-After") || "1"));
      return;
    }
    let doc;
    try { doc = await resp.json(); } catch (e) { return; }
    if (signal.aborted) return;
    targets.forEach((t) => {
      const card = cards.get(t.spec);
      if (card) drawBoxes(card, doc.targets[t.spec]);
    });
    document.body.dataset.boxesVersion = String(doc.version);
    requestAnimationFrame(separateAllLabels);
  }

  function percent(v) { return (v * 100).toFixed(3) + "%"; }

  function placeBox(node, box, w, h) {
    node.style.left = percent(box[0] / w);
    node.style.top = percent(box[1] / h);
    node.style.width = percent(Math.max(0, box[2] - box[0]) / w);
    node.style.height = percent(Math.max(0, box[3] - box[1]) / h);
  }

  function drawBoxes(card, info) {
    const layer = card.boxes;
    layer.textContent = "";
    if (!info || info.error) {
      card.fig.dataset.boxes = "0";
      return;
    }
    let drawn = 0;
    info.layers.forEach((l, index) => {
      if (l.dropped) return;
      const color = PALETTE[index % PALETTE.length];
      const node = make("div", "box");
      node.dataset.layer = l.id;
      node.style.setProperty("--c", color);
      placeBox(node, l.box, info.width, info.height);
      const label = make("span", "box-id", l.id);
      node.title = l.id + " (" + l.type + "): " + l.box.map((v) => Math.round(v)).join(", ");
      node.appendChild(label);
      layer.appendChild(node);
      drawn += 1;
      const tb = l.text_box;
      if (tb && tb.some((v, i) => Math.abs(v - l.box[i]) > 0.5)) {
        const inner = make("div", "box text-box");
        inner.style.setProperty("--c", color);
        placeBox(inner, tb, info.width, info.height);
        layer.appendChild(inner);
      }
    });
    card.fig.dataset.boxes = String(drawn);
  }

  function overlaps(a, b) {
    return a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
  }

  function separateLabels(layer) {
    // each label sits just above its box if there is room in the frame, else inside it, moved
    // down a line at a time while it would cover a label placed before it
    const frame = layer.getBoundingClientRect();
    const placed = [];
    layer.querySelectorAll(".box-id").forEach((label) => {
      const box = label.parentElement.getBoundingClientRect();
      const h = label.offsetHeight;
      const w = label.offsetWidth;
      const rectAt = (dy) => ({ left: box.left, right: box.left + w, top: box.top + dy,
        bottom: box.top + dy + h });
      let chosen = 0;
      for (const dy of [-h, 0, h, 2 * h, 3 * h, -2 * h]) {
        const rect = rectAt(dy);
        if (rect.top < frame.top || rect.bottom > frame.bottom) continue;
        if (placed.some((r) => overlaps(r, rect))) continue;
        chosen = dy;
        break;
      }
      label.style.top = (chosen - BOX_BORDER) + "px";
      placed.push(rectAt(chosen));
    });
  }

  function separateAllLabels() {
    if (!$("outlines").checked) return;
    cards.forEach((card) => separateLabels(card.boxes));
  }

  // ------------------------------------------------------------------ state

  function showProblems(s) {
    const box = $("problems");
    const list = $("problem-list");
    list.textContent = "";
    if (!s.problems.length) {
      box.hidden = true;
      return;
    }
    s.problems.forEach((p) => {
      const item = make("li");
      item.append(make("code", "", p.field), " " + p.message);
      if (p.value !== null && p.value !== undefined) item.append(" (got ", make("code", "", p.value), ")");
      list.appendChild(item);
    });
    $("problems-title").textContent = s.problems.length === 1
      ? "The template does not load: 1 problem"
      : "The template does not load: " + s.problems.length + " problems";
    $("problems-note").textContent = s.version > 0
      ? "The last good render (version " + s.version + ") stays visible until the file loads again."
      : "Nothing has rendered yet: fix the file and save it.";
    box.hidden = false;
  }

  function describe(s) {
    if (s.service === "failed") return ["the render workers failed to start (see the terminal)", "bad"];
    if (!s.ready) return ["starting the render workers…", ""];
    if (s.problems.length) return ["template error: showing version " + s.version, "bad"];
    const when = s.template && s.template.loaded_at
      ? " · loaded " + new Date(s.template.loaded_at * 1000).toLocaleTimeString() : "";
    return ["version " + s.version + when, "ok"];
  }

  function apply(s) {
    const previous = state;
    state = s;
    revision = s.revision;
    $("file").textContent = s.file;
    $("file").title = "watching " + s.path;
    document.title = (s.template ? s.template.name : "template") + " · fastshare preview";
    showProblems(s);
    const [text, kind] = describe(s);
    setStatus(text, kind);
    const ds = document.body.dataset;
    ds.revision = String(s.revision);
    ds.version = String(s.version);
    ds.problems = String(s.problems.length);
    if (!s.template) {
      $("empty").hidden = false;
      return;
    }
    const changed = s.version !== version || !previous || !previous.template;
    version = s.version;
    if (changed) {
      buildFields(s.template.fields);
      buildTargetPicker();
      buildGrid();
    }
    if (s.ready && (changed || !previous || !previous.ready)) scheduleRender(0);
  }

  async function poll() {
    for (;;) {
      let resp;
      try {
        resp = await fetch("api/state?since=" + revision, { cache: "no-store" });
      } catch (e) {
        setStatus("disconnected: is fastshare preview still running?", "bad");
        await sleep(1000);
        continue;
      }
      if (!resp.ok) {
        const err = await readError(resp);
        setStatus(err.message, "bad");
        await sleep(2000);
        continue;
      }
      let s;
      try { s = await resp.json(); } catch (e) { await sleep(500); continue; }
      if (s.revision !== revision || !state) apply(s);
    }
  }

  // ------------------------------------------------------------------ wiring

  function init() {
    $("controls").addEventListener("submit", (e) => e.preventDefault());
    document.querySelectorAll('input[name="format"]').forEach((radio) => {
      radio.addEventListener("change", () => scheduleRender(0));
    });
    $("target").addEventListener("change", () => { buildGrid(); scheduleRender(0); });
    $("zoom").addEventListener("change", layoutScale);
    $("outlines").addEventListener("change", () => {
      const on = $("outlines").checked;
      $("grid").classList.toggle("show-boxes", on);
      if (on) loadBoxes();
    });
    $("grid").classList.toggle("show-boxes", $("outlines").checked);
    let pending = false;
    window.addEventListener("resize", () => {
      if (pending) return;
      pending = true;
      requestAnimationFrame(() => { pending = false; layoutScale(); });
    });
    poll();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
