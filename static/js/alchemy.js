// Song alchemy page: songs to add and to subtract, the mix, the songs left out, a plot, a playlist.
"use strict";

(() => {
  const SVG = "http://www.w3.org/2000/svg";
  const PLOT = { width: 640, height: 360, margin: 18 };
  const ROLE_NAMES = { add: "added", subtract: "subtracted", result: "result", filtered: "left out" };
  const form = document.getElementById("alchemy-form");
  const run = document.getElementById("run");
  const notice = document.getElementById("notice");
  const results = document.getElementById("results");
  const sides = { add: [], subtract: [] };   // picked tracks, in the order picked
  let shown = null;                          // the last answer, what the playlist saves

  function say(message, isError) {
    notice.hidden = !message;
    notice.className = "notice" + (isError ? " error" : "");
    sonarium.text(notice, message);
  }

  function label(track) {
    return [track.title || "(untitled)", track.artist].filter(Boolean).join(" — ");
  }

  // The chips of one side: each picked song with a button that removes it.
  function renderSide(side) {
    const list = document.getElementById(`${side}-list`);
    list.replaceChildren(...sides[side].map((track, n) => {
      const chip = document.createElement("li");
      chip.className = `chip ${side}`;
      chip.dataset.itemId = track.item_id;
      const text = document.createElement("span");
      sonarium.text(text, label(track));
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "chip-remove";
      remove.setAttribute("aria-label", `Remove ${label(track)}`);
      sonarium.text(remove, "×");
      remove.addEventListener("click", () => { sides[side].splice(n, 1); renderSide(side); });
      chip.append(text, remove);
      return chip;
    }));
  }

  function addTo(side, picker) {
    return (track) => {
      const other = side === "add" ? "subtract" : "add";
      if (sides[side].some((t) => t.item_id === track.item_id)) {
        say(`${label(track)} is already in the list.`, true);
      } else {
        sides[side].push(track);
        renderSide(side);
        say(sides[other].some((t) => t.item_id === track.item_id)
          ? `${label(track)} is now on both sides.` : "");
      }
      picker.clear();
    };
  }

  const addPicker = sonarium.trackPicker(document.getElementById("add-song"), {
    onPick: (track) => addTo("add", addPicker)(track) });
  const subtractPicker = sonarium.trackPicker(document.getElementById("subtract-song"), {
    onPick: (track) => addTo("subtract", subtractPicker)(track) });

  const playlist = sonarium.playlistForm(document.getElementById("playlist"), {
    kind: "alchemy",
    defaultName: "Song alchemy",
    itemIds: () => (shown ? shown.results.map((track) => track.item_id) : []),
    params: () => (shown ? shown.request : {}),
  });

  function titles(tracks, limit) {
    const names = tracks.slice(0, limit).map((t) => t.title || "song");
    return names.join(" + ") + (tracks.length > limit ? ` and ${tracks.length - limit} more` : "");
  }

  function mixName(answer) {
    const minus = answer.request.subtract.length ? " − " + titles(answer.subtractTracks, 2) : "";
    return (titles(answer.addTracks, 3) + minus).slice(0, 100);
  }

  function svg(tag, attributes, title) {
    const node = document.createElementNS(SVG, tag);
    Object.entries(attributes).forEach(([name, value]) => node.setAttribute(name, value));
    if (title) {
      const tip = document.createElementNS(SVG, "title");
      tip.textContent = title;
      node.appendChild(tip);
    }
    return node;
  }

  // The plot: every shown song and both centres at their 2-D coordinates, scaled to fit.
  function drawPlot(plot) {
    const centres = [plot.centroids.add, plot.centroids.subtract].filter(Boolean);
    const all = [...plot.points, ...centres];
    const xs = all.map((p) => p.x);
    const ys = all.map((p) => p.y);
    const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    const spanX = x1 - x0 || 1;
    const spanY = y1 - y0 || 1;
    const inner = { w: PLOT.width - 2 * PLOT.margin, h: PLOT.height - 2 * PLOT.margin };
    const scale = Math.min(inner.w / spanX, inner.h / spanY);   // same scale on both axes: distances stay true
    const offX = PLOT.margin + (inner.w - spanX * scale) / 2;
    const offY = PLOT.margin + (inner.h - spanY * scale) / 2;
    const at = (p) => [offX + (p.x - x0) * scale, PLOT.height - (offY + (p.y - y0) * scale)];

    const picture = svg("svg", { viewBox: `0 0 ${PLOT.width} ${PLOT.height}`, role: "img",
                                 "aria-label": "Added, subtracted, result and left-out songs in a 2-D map" });
    const order = { filtered: 0, result: 1, subtract: 2, add: 3 };   // the recipe is drawn on top
    [...plot.points].sort((a, b) => order[a.role] - order[b.role]).forEach((point) => {
      const [cx, cy] = at(point);
      const circle = svg("circle", { cx, cy, r: point.role === "add" || point.role === "subtract" ? 7 : 5,
                                     class: `point role-${point.role}` },
                         `${label(point)} (${ROLE_NAMES[point.role]})`);
      circle.dataset.itemId = point.item_id;
      picture.appendChild(circle);
    });
    [["add", "centre of the added songs"], ["subtract", "centre of the subtracted songs"]].forEach(([side, text]) => {
      const centre = plot.centroids[side];
      if (!centre) return;
      const [cx, cy] = at(centre);
      const d = 8;
      picture.appendChild(svg("path", { d: `M${cx - d},${cy}L${cx},${cy - d}L${cx + d},${cy}L${cx},${cy + d}Z`,
                                         class: `centroid role-${side}` }, text));
    });
    document.getElementById("plot-area").replaceChildren(picture);
    sonarium.text(document.getElementById("plot-space"), plot.space === "map"
      ? "(where these songs lie on the music map; hover a point for its song)"
      : "(a 2-D projection of these songs alone; hover a point for its song)");
  }

  function render(answer) {
    shown = answer;
    sonarium.text(document.getElementById("results-title"), mixName(answer));
    const parts = [`${answer.results.length} songs, ${sonarium.orderSummary(answer.order)}`];
    if (answer.request.subtract.length) {
      const listed = answer.filtered.length < answer.filtered_total
        ? ` (the ${answer.filtered.length} closest listed below)` : "";
      parts.push(answer.filtered_total
        ? `${answer.filtered_total} left out for sounding more like what you subtracted than what you added${listed}`
        : "nothing sounded close enough to what you subtracted to be left out");
    }
    let summary = parts.join("; ") + ".";
    if (answer.results.length < answer.request.n) summary += " The library has no more songs to offer.";
    sonarium.text(document.getElementById("results-summary"), summary);
    sonarium.trackTable(document.getElementById("result-table"), answer.results);
    const filtered = document.getElementById("filtered");
    filtered.hidden = answer.filtered.length === 0;
    document.getElementById("filtered-list").replaceChildren(...answer.filtered.map((track) => {
      const item = document.createElement("li");
      item.dataset.itemId = track.item_id;
      sonarium.text(item, `${label(track)} · ${track.why.text}`);
      return item;
    }));
    drawPlot(answer.plot);
    playlist.setName(mixName(answer));
    playlist.reset();
    results.hidden = false;
  }

  function number(id) {
    const raw = document.getElementById(id).value.trim();
    return raw === "" ? null : Number(raw);
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!sides.add.length) {
      say("Add at least one song: type three letters and pick it from the list.", true);
      return;
    }
    const request = {
      add: sides.add.map((t) => t.item_id),
      subtract: sides.subtract.map((t) => t.item_id),
      n: number("n"),
      temperature: number("temperature") ?? 0,
    };
    const seed = number("seed");
    if (seed !== null) request.seed = seed;
    const distance = number("subtract-distance");
    if (distance !== null) request.subtract_distance = distance;
    Object.assign(request, sonarium.orderChoice());
    run.disabled = true;
    say("Mixing…");
    try {
      const answer = await sonarium.api("/api/alchemy", { method: "POST", body: request });
      answer.request = request;
      answer.addTracks = [...sides.add];
      answer.subtractTracks = [...sides.subtract];
      say("");
      render(answer);
    } catch (err) {
      say(err.message, true);
    }
    run.disabled = false;
  });
})();
