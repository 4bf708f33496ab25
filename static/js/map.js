// Music map page: every song a point (Plotly scattergl), coloured by a chosen key, with highlight,
// lasso/box selection into a playlist, real neighbours on click, and a path or an alchemy drawn over it.
"use strict";

(() => {
  const plot = document.getElementById("map-plot");
  const notice = document.getElementById("map-notice");
  const colourBy = document.getElementById("colour-by");
  const sampleSelect = document.getElementById("sample");
  const highlightInput = document.getElementById("highlight");
  const MAX_HIGHLIGHTED = 5000;     // more rings than this hide the map they are meant to point into
  const MAX_SELECTED = Number(document.getElementById("selection").dataset.maxSongs);   // a playlist's limit
  const NO_VALUE = { msd_tag: "no tags", mtt_tag: "no tags", mood: "no moods", energy: "unknown energy",
                     tempo: "unknown tempo", playlist: "in no automatic playlist" };
  // Distinct hues for categories; ordered keys (energy, tempo) get a light-to-dark ramp instead.
  const CATEGORY_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
    "#17becf", "#bcbd22", "#393b79", "#ad494a", "#637939", "#7b4173", "#3182bd", "#e6550d", "#31a354",
    "#756bb1", "#843c39", "#d6616b", "#6baed6"];
  const RAMP = ["#fde725", "#7ad151", "#22a884", "#2a788e", "#414487", "#440154"];
  const ORDERED = new Set(["energy", "tempo"]);
  const OVERLAY = "overlay";        // trace meta of everything drawn over the songs

  let map = null;                   // the /api/map answer
  let traceRows = [];               // per song trace: the rows (point numbers in `map.points`) it draws
  let highlighted = [];             // rows matching the highlight text
  const overlays = { path: null, alchemy: null, neighbours: null };   // Plotly traces drawn on top
  let selectedTracks = [];          // what "Create playlist" saves

  function say(element, message, kind) {
    element.hidden = !message;
    element.className = "notice" + (kind ? ` ${kind}` : "");
    sonarium.text(element, message);
  }

  function label(row) {
    const points = map.points;
    return [points.title[row] || "(untitled)", map.artists[points.artist[row]]].filter(Boolean).join(" — ");
  }

  // Points per legend entry of the chosen key, one scattergl trace each, so the legend hides and shows them.
  function songTraces(key) {
    const keys = map.points[key];
    const names = map.legends[key];
    const rowsOf = names.map(() => []);
    const unset = [];
    keys.forEach((k, row) => (k >= 0 ? rowsOf[k] : unset).push(row));
    const groups = rowsOf.map((rows, k) => ({ rows, name: names[k], k })).filter((g) => g.rows.length);
    if (unset.length) groups.push({ rows: unset, name: NO_VALUE[key], k: -1 });
    const size = map.count > 100000 ? 3 : map.count > 20000 ? 4 : 6;
    traceRows = groups.map((g) => g.rows);
    return groups.map((group) => {
      const colour = group.k < 0 ? "#c3c7cf"
        : ORDERED.has(key) ? RAMP[Math.round(group.k * (RAMP.length - 1) / Math.max(1, names.length - 1))]
        : CATEGORY_COLOURS[group.k % CATEGORY_COLOURS.length];
      return {
        type: "scattergl", mode: "markers", meta: "songs", name: `${group.name} (${group.rows.length})`,
        x: Float32Array.from(group.rows, (row) => map.points.x[row]),
        y: Float32Array.from(group.rows, (row) => map.points.y[row]),
        text: group.rows.map(label),
        hovertemplate: "%{text}<br><i>click: its real nearest neighbours</i><extra></extra>",
        marker: { size, color: colour, opacity: 0.75 },
      };
    });
  }

  function overlayTraces() {
    const traces = [];
    if (highlighted.length) {
      const rows = highlighted.slice(0, MAX_HIGHLIGHTED);
      traces.push({ type: "scattergl", mode: "markers", meta: OVERLAY, name: "highlighted",
                    x: rows.map((r) => map.points.x[r]), y: rows.map((r) => map.points.y[r]),
                    text: rows.map(label), hovertemplate: "%{text}<extra>highlighted</extra>",
                    marker: { size: 14, color: "rgba(0,0,0,0)", line: { color: "#e00000", width: 2 } } });
    }
    return traces.concat(Object.values(overlays).filter(Boolean));
  }

  function layout() {
    const hidden = { visible: false, showgrid: false, zeroline: false };
    return { dragmode: "lasso", hovermode: "closest", uirevision: "map", margin: { l: 10, r: 10, t: 10, b: 10 },
             xaxis: hidden, yaxis: { ...hidden, scaleanchor: "x" },   // one scale: distances stay true
             legend: { itemsizing: "constant", bgcolor: "rgba(255,255,255,.85)" }, height: 640 };
  }

  function draw() {
    Plotly.react(plot, [...songTraces(colourBy.value), ...overlayTraces()], layout(),
                 { responsive: true, displaylogo: false, scrollZoom: true });
  }

  function redrawOverlays() {
    Plotly.react(plot, [...plot.data.filter((trace) => trace.meta === "songs"), ...overlayTraces()], layout());
  }

  function describeMap() {
    const facts = document.getElementById("map-facts");
    const method = map.method === "pca" ? "PCA (the library is small)" : "UMAP";
    let text = `${map.count.toLocaleString()} of ${map.total.toLocaleString()} songs shown (map version `
      + `${map.version}, drawn with ${method}).`;
    if (map.neighbours_kept != null) {
      text += ` Of each song's 10 nearest in sound, on average ${Math.round(map.neighbours_kept * 100)}% are `
        + "among its 10 nearest on the map.";
    }
    sonarium.text(facts, text);
    facts.hidden = false;
  }

  async function load() {
    say(notice, "Loading the map…");
    try {
      map = await sonarium.api(`/api/map?sample=${sampleSelect.value}`);
    } catch (err) {
      if (err.status === 503) { showNoMap(err.message); return; }
      say(notice, err.message, "error");
      return;
    }
    say(notice, "");
    for (const id of ["map-controls", "map-plot", "map-help", "overlays"]) document.getElementById(id).hidden = false;
    const drawControls = document.getElementById("draw-controls");
    if (drawControls) drawControls.hidden = true;
    describeMap();
    findHighlighted();
    const first = !plot.on;   // Plotly adds .on to the element on its first draw
    draw();
    if (first) listen();
    plot.dataset.points = String(map.count);   // the page tests wait for this
  }

  function showNoMap(message) {
    say(notice, message);
    const drawControls = document.getElementById("draw-controls");
    if (drawControls) drawControls.hidden = false;
  }

  // --- highlight: songs whose title or artist contains the typed text (case and accents ignored)
  function fold(text) {
    return (text || "").normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }

  function findHighlighted() {
    const wanted = fold(highlightInput.value.trim());
    const count = document.getElementById("highlight-count");
    highlighted = [];
    if (wanted.length >= 2) {
      const artistMatches = map.artists.map((name) => fold(name).includes(wanted));
      map.points.title.forEach((title, row) => {
        if (artistMatches[map.points.artist[row]] || fold(title).includes(wanted)) highlighted.push(row);
      });
    }
    sonarium.text(count, wanted.length < 2 ? "" : highlighted.length
      ? `${highlighted.length} song${highlighted.length === 1 ? "" : "s"} ringed in red`
        + (highlighted.length > MAX_HIGHLIGHTED ? ` (the first ${MAX_HIGHLIGHTED})` : "")
      : `no song shown matches${map.sample < 100 ? ": try 100% of the songs" : ""}`);
  }

  let highlightTimer = null;
  highlightInput.addEventListener("input", () => {
    clearTimeout(highlightTimer);
    highlightTimer = setTimeout(() => { findHighlighted(); redrawOverlays(); }, 250);
  });

  // --- selection: lasso or box, into a table and a playlist
  const playlist = sonarium.playlistForm(document.getElementById("playlist"), {
    kind: "map",
    defaultName: "From the music map",
    itemIds: () => selectedTracks.map((track) => track.item_id),
    params: () => ({ map_version: map.version, sample: map.sample, colour: colourBy.value }),
  });

  async function showSelection(rows) {
    const section = document.getElementById("selection");
    if (!rows.length) { section.hidden = true; selectedTracks = []; return; }
    const ids = rows.slice(0, MAX_SELECTED).map((row) => map.points.id[row]);
    const note = document.getElementById("selection-note");
    note.hidden = rows.length <= MAX_SELECTED;
    sonarium.text(note, `${rows.length} songs selected; a playlist holds at most ${MAX_SELECTED}, so the first `
      + `${MAX_SELECTED} are listed.`);
    const answer = await sonarium.api("/api/map/tracks", { method: "POST", body: { ids } });
    // a selection is a set: put it in playing order (similarity/craft.py) before it becomes a playlist
    const ordered = await sonarium.api("/api/order_tracks", {
      method: "POST", body: { item_ids: answer.tracks.map((track) => track.item_id) } });
    const byItem = new Map(answer.tracks.map((track) => [track.item_id, track]));
    selectedTracks = ordered.tracks.map((track) => ({ ...byItem.get(track.item_id), why: track.why }));
    sonarium.text(document.getElementById("selection-title"),
                  `${selectedTracks.length} selected song${selectedTracks.length === 1 ? "" : "s"}`);
    sonarium.trackTable(document.getElementById("selection-table"), selectedTracks);
    playlist.reset();
    section.hidden = false;
  }

  function selectedRows(event) {
    const points = (event && event.points) || [];
    return points.filter((p) => p.data.meta === "songs")
      .map((p) => traceRows[p.curveNumber][p.pointIndex ?? p.pointNumber]);
  }

  // --- a song's real neighbours, from the index, drawn as lines from it
  async function showNeighbours(row) {
    const section = document.getElementById("neighbours");
    let answer;
    try {
      answer = await sonarium.api(`/api/map/neighbours/${map.points.id[row]}?n=10`);
    } catch (err) {
      say(document.getElementById("overlay-notice"), err.message, "error");
      return;
    }
    const from = answer.track;
    sonarium.text(document.getElementById("neighbours-title"),
                  `Nearest in sound to ${[from.title, from.artist].filter(Boolean).join(" — ")}`);
    const span = mapSpan();
    sonarium.trackTable(document.getElementById("neighbours-table"), answer.neighbours, [
      { label: "Distance in sound", value: (track) => track.distance.toFixed(3) },
      { label: "Apart on the map", value: (track) => (track.x == null || from.x == null ? "not on the map"
          : `${Math.round(100 * Math.hypot(track.x - from.x, track.y - from.y) / span)}% of its width`) },
    ]);
    const placed = answer.neighbours.filter((track) => track.x != null);
    overlays.neighbours = {
      type: "scatter", mode: "lines+markers", meta: OVERLAY, name: "real neighbours", hoverinfo: "skip",
      x: placed.flatMap((track) => [from.x, track.x, null]), y: placed.flatMap((track) => [from.y, track.y, null]),
      line: { color: "#111", width: 1 }, marker: { size: 5, color: "#111" },
    };
    redrawOverlays();
    section.hidden = false;
  }

  // The map's diagonal (a loop: spreading 300k numbers into Math.max overflows the stack).
  function mapSpan() {
    const extent = (values) => {
      let low = Infinity;
      let high = -Infinity;
      for (const value of values) { if (value < low) low = value; if (value > high) high = value; }
      return high - low;
    };
    return Math.hypot(extent(map.points.x), extent(map.points.y)) || 1;
  }

  // --- overlays: a song path, an alchemy result
  const overlayNotice = document.getElementById("overlay-notice");
  const pathStart = sonarium.trackPicker(document.getElementById("path-start"));
  const pathEnd = sonarium.trackPicker(document.getElementById("path-end"));
  const mixSongs = [];
  const mixPicker = sonarium.trackPicker(document.getElementById("alchemy-song"), {
    onPick: (track) => {
      if (!mixSongs.some((t) => t.item_id === track.item_id)) mixSongs.push(track);
      renderMix();
      mixPicker.clear();
    },
  });

  function renderMix() {
    document.getElementById("alchemy-list").replaceChildren(...mixSongs.map((track, n) => {
      const chip = document.createElement("li");
      chip.className = "chip";
      chip.dataset.itemId = track.item_id;
      const name = document.createElement("span");
      sonarium.text(name, [track.title, track.artist].filter(Boolean).join(" — "));
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "chip-remove";
      remove.setAttribute("aria-label", "Remove");
      sonarium.text(remove, "×");
      remove.addEventListener("click", () => { mixSongs.splice(n, 1); renderMix(); });
      chip.append(name, remove);
      return chip;
    }));
  }

  // Where songs lie on the whole map (not only the sample shown), and how many are not on it.
  async function placed(tracks) {
    const answer = await sonarium.api("/api/map/tracks", { method: "POST", body: { ids: tracks.map((t) => t.id) } });
    const onMap = answer.tracks.filter((track) => track.x != null);
    return { onMap, missing: tracks.length - onMap.length };
  }

  function overlayTrace(name, tracks, style) {
    return { type: "scatter", meta: OVERLAY, name, x: tracks.map((t) => t.x), y: tracks.map((t) => t.y),
             text: tracks.map((t) => [t.title, t.artist].filter(Boolean).join(" — ")),
             hovertemplate: `%{text}<extra>${name}</extra>`, ...style };
  }

  function missingNote(missing) {
    return missing ? ` ${missing} of its songs are not on the map yet.` : "";
  }

  document.getElementById("path-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!pathStart.track || !pathEnd.track) { say(overlayNotice, "Pick both songs from the lists.", "error"); return; }
    try {
      const path = await sonarium.api(`/api/find_path?start_item_id=${encodeURIComponent(pathStart.track.item_id)}`
                                      + `&end_item_id=${encodeURIComponent(pathEnd.track.item_id)}`);
      const { onMap, missing } = await placed(path.tracks);
      overlays.path = overlayTrace("song path", onMap, { mode: "lines+markers",
        line: { color: "#e07b00", width: 2 }, marker: { size: 8, color: "#e07b00" } });
      say(overlayNotice, `The path of ${path.tracks.length} songs is drawn in orange.${missingNote(missing)}`, "ok");
      redrawOverlays();
    } catch (err) {
      say(overlayNotice, err.message, "error");
    }
  });

  document.getElementById("alchemy-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!mixSongs.length) { say(overlayNotice, "Pick at least one song to mix.", "error"); return; }
    try {
      const mix = await sonarium.api("/api/alchemy", { method: "POST",
        body: { add: mixSongs.map((t) => t.item_id), n: 25 } });
      const { onMap, missing } = await placed([...mixSongs, ...mix.results]);
      const picked = new Set(mixSongs.map((t) => t.id));
      overlays.alchemy = overlayTrace("alchemy result", onMap, { mode: "markers",
        marker: { size: onMap.map((t) => (picked.has(t.id) ? 14 : 9)), symbol: onMap.map((t) => (picked.has(t.id)
          ? "star" : "diamond")), color: "#00a08a", line: { color: "#fff", width: 1 } } });
      say(overlayNotice, `The mix (stars) and its ${mix.results.length} songs (diamonds) are drawn in teal.`
        + missingNote(missing), "ok");
      redrawOverlays();
    } catch (err) {
      say(overlayNotice, err.message, "error");
    }
  });

  document.getElementById("clear-overlays").addEventListener("click", () => {
    Object.keys(overlays).forEach((name) => { overlays[name] = null; });
    document.getElementById("neighbours").hidden = true;
    say(overlayNotice, "");
    redrawOverlays();
  });

  // --- drawing the map for the first time (admins)
  const drawButton = document.getElementById("draw-map");
  if (drawButton) {
    drawButton.addEventListener("click", async () => {
      drawButton.disabled = true;
      try {
        const started = await sonarium.api("/api/map/refit", { method: "POST" });
        say(notice, "Drawing the map… it appears here when it is ready.");
        const timer = setInterval(async () => {
          const task = await sonarium.api(started.status_url).catch(() => null);
          if (!task || !["SUCCESS", "FAILURE", "REVOKED"].includes(task.status)) return;
          clearInterval(timer);
          drawButton.disabled = false;
          if (task.status === "SUCCESS") load(); else say(notice, `Drawing the map ended: ${task.status}.`, "error");
        }, 2000);
      } catch (err) {
        say(notice, err.message, "error");
        drawButton.disabled = false;
      }
    });
  }

  // Plotly's events, once the plot exists (the first draw makes it).
  function listen() {
    plot.on("plotly_selected", (event) => showSelection(selectedRows(event))
      .catch((err) => say(overlayNotice, err.message, "error")));
    plot.on("plotly_deselect", () => showSelection([]));
    plot.on("plotly_click", (event) => {
      const point = event.points.find((p) => p.data.meta === "songs");
      if (point) showNeighbours(traceRows[point.curveNumber][point.pointIndex ?? point.pointNumber]);
    });
  }

  colourBy.addEventListener("change", draw);
  sampleSelect.addEventListener("change", load);
  load();
})();
