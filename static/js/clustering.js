// Automatic playlists page: start a search (admins), watch it live, read the playlists, push them.
"use strict";

(() => {
  const RUNNING_POLL_MS = 2000;     // while a search runs
  const IDLE_POLL_MS = 15000;       // otherwise: notices a run an admin starts elsewhere
  const MAX_BACKOFF_MS = 30000;
  const STATUS_WORDS = { kept: "kept from the last run", added: "new" };
  const RUN_STATUS_WORDS = { PENDING: "waiting for a worker", STARTED: "running", PROGRESS: "running",
                             SUCCESS: "finished", FAILURE: "failed", REVOKED: "cancelled" };
  // What each measure of the score tells, for a person (similarity/cluster_scoring.py defines them).
  const MEASURES = {
    purity: ["Coherence", "how strongly each playlist's songs carry that playlist's own leading tags"],
    diversity: ["Variety", "how many different leading tags the playlists have between them"],
    silhouette: ["Separation", "how much closer each song sounds to its own group than to the nearest other"],
    davies_bouldin: ["Apartness", "how far apart the groups lie for their width: two groups on one spot score low"],
    calinski_harabasz: ["Spread", "the spread between the groups against the spread within them"],
  };

  const notice = document.getElementById("notice");
  const form = document.getElementById("clustering-form");        // admins only
  const cancel = document.getElementById("cancel");               // admins only
  const cards = document.getElementById("cards");
  let shownSet = null;        // what the cards show: the set's task id and playlist ids
  let liveTaskId = null;
  let loadFailed = false;     // the notice shows a failed refresh, to clear when one succeeds
  let runNotice = false;      // the notice is about the live run (started, cancelling): cleared when it ends

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) sonarium.text(node, text);
    return node;
  }

  function say(message, kind) {
    notice.hidden = !message;
    notice.className = "notice" + (kind ? " " + kind : "");
    sonarium.text(notice, message);
  }

  function percent(share) { return `${Math.round(share * 100)}%`; }

  function duration(seconds) {
    if (seconds == null) return "estimating…";
    if (seconds < 90) return `about ${Math.max(1, Math.round(seconds))} s`;
    const minutes = Math.round(seconds / 60);
    return minutes < 90 ? `about ${minutes} min` : `about ${Math.floor(minutes / 60)} h ${minutes % 60} min`;
  }

  function range([low, high], digits, unit = "") {
    const a = low.toFixed(digits);
    const b = high.toFixed(digits);
    return (a === b ? a : `${a}–${b}`) + unit;
  }

  // -- the run: live progress, or how the last one ended -------------------------------------------------

  function describeConfig(config) {
    const settings = Object.entries(config)
      .filter(([key, value]) => key !== "algorithm" && !(key === "pca" && !value))   // pca 0: none
      .map(([key, value]) => (key === "pca" ? `reduced to ${value} dimensions`
        : `${key.replace(/_/g, " ")} ${value}`));
    return config.algorithm + (settings.length ? ` (${settings.join(", ")})` : "");
  }

  function number(value, digits) { return value == null ? "n/a" : value.toFixed(digits); }

  function breakdownItems(breakdown) {
    if (!breakdown) return [];
    const items = Object.entries(breakdown).filter(([, measure]) => measure && typeof measure === "object")
      .map(([key, measure]) => {
        const [label, meaning] = MEASURES[key] || [key.replace(/_/g, " "), null];
        const item = el("li");
        item.dataset.measure = key;
        item.append(el("strong", null, `${label} ${number(measure.normalised, 2)}`));
        if (meaning) item.append(` — ${meaning}.`);
        item.append(el("span", "muted", ` Measured ${number(measure.raw, 3)}, a random grouping ` +
          `${number(measure.random, 3)}; ` + (measure.weight ? `counts ×${measure.weight}.` : "not counted.")));
        return item;
      });
    if (typeof breakdown.placeable_share === "number") {
      const item = el("li");
      item.dataset.measure = "placeable_share";
      item.append(el("strong", null, `Fillable ${percent(breakdown.placeable_share)}`),
                  " — how much of the playlists asked for this grouping can fill with groups of the right " +
                  "size; the weighted sum of the measures above is multiplied by it.");
      items.push(item);
    }
    return items;
  }

  function fact(term, value, name) {
    const dt = el("dt", null, term);
    const dd = el("dd", `fact-${name}`, value);
    return [dt, dd];
  }

  function renderRun(running, last) {
    const box = document.getElementById("run");
    const task = running || last;
    box.hidden = !task;
    liveTaskId = running ? running.id : null;
    if (cancel) {
      cancel.hidden = !running;
      if (!running) cancel.disabled = false;   // stays disabled while a cancel goes through
    }
    if (!task) return;
    const details = task.details || {};
    sonarium.text(document.getElementById("run-title"), running ? "Search running" : "Last search");
    const badge = document.getElementById("run-status");
    badge.className = `badge ${task.status}`;
    sonarium.text(badge, RUN_STATUS_WORDS[task.status] || task.status);
    const bar = document.getElementById("run-bar");
    bar.hidden = !running;
    bar.firstElementChild.style.width = `${task.progress}%`;
    const result = details.result || {};
    sonarium.text(document.getElementById("run-message"),
                  running ? `${Math.round(task.progress)}% · ${task.message}` : (result.message || task.message));
    const facts = [];
    if (details.runs_total != null) {
      facts.push(fact("Tries", `${details.runs_finished || 0} of at most ${details.runs_total}`, "runs"));
    }
    if (running) facts.push(fact("Time left", duration(details.eta_seconds), "eta"));
    if (details.tracks != null) facts.push(fact("Songs", String(details.tracks), "tracks"));
    if (details.seed != null) facts.push(fact("Seed", String(details.seed), "seed"));
    if (!running && task.finished_at) {
      facts.push(fact("Ended", new Date(task.finished_at).toLocaleString(), "ended"));
    }
    const best = details.best;
    if (best) {
      // The best possible score is the sum of the weights (every measure at 1, the whole sample usable).
      const ceiling = Object.values(best.breakdown || {}).reduce((sum, measure) => sum + (measure.weight || 0), 0);
      facts.push(fact(running ? "Best so far" : "Best score",
                      `${best.score.toFixed(3)}` + (ceiling ? ` of at most ${ceiling}` : "") +
                      `: ${describeConfig(best.config)}, ${best.clusters} groups of ` +
                      `${range([best.sizes_min, best.sizes_max], 0)} songs in the sample` +
                      (best.noise_share ? `, ${percent(best.noise_share)} of it left out` : ""), "best"));
    }
    document.getElementById("run-facts").replaceChildren(...facts.flat());
    document.getElementById("best").hidden = !best;
    document.getElementById("best-breakdown").replaceChildren(...breakdownItems(best && best.breakdown));
  }

  // -- the playlists --------------------------------------------------------------------------------------

  function profileItems(profile) {
    if (!profile) return [];
    const lines = [];
    const tags = profile.top_tags || [];
    if (tags.length) {
      lines.push(["Tags", tags.map(([tag, share], n) => `${tag} in ${percent(share)}` + (n ? "" : " of its songs"))
        .join(", ")]);
    }
    const moods = profile.top_moods || [];
    if (moods.length) {
      lines.push(["Moods", moods.map(([mood, mean]) => `${mood} ${mean.toFixed(2)}`).join(", ") + " (each 0–1)"]);
    }
    if (profile.tempo) lines.push(["Tempo", range(profile.tempo, 0, " BPM")]);
    if (profile.energy) lines.push(["Energy", `${range(profile.energy, 2)} on a scale from 0 (quiet) to 1 (loud)`]);
    return lines.map(([term, value]) => {
      const item = el("li");
      item.append(el("span", "muted", `${term}: `), value);
      return item;
    });
  }

  function trackLabel(track) {
    return [track.title || "(untitled)", track.artist].filter(Boolean).join(" — ");
  }

  function card(playlist) {
    const article = el("article", "playlist-card");
    article.dataset.playlistId = playlist.id;
    const head = el("header");
    const pick = el("label", "pick");
    const box = el("input", "pick-playlist");
    box.type = "checkbox";
    box.value = playlist.id;
    pick.append(box, el("h3", "playlist-name", playlist.name));
    head.append(pick, el("span", `badge status-${playlist.status}`, STATUS_WORDS[playlist.status] || playlist.status));
    const list = el("ol", "track-list");
    list.replaceChildren(...playlist.tracks.map((track) => {
      const item = el("li", null, trackLabel(track));
      item.dataset.itemId = track.item_id;
      return item;
    }));
    const tracks = el("details", "tracks");
    tracks.append(el("summary", null, `Songs (${playlist.size})`), list);
    const result = el("p", "push-result");
    result.setAttribute("role", "status");
    result.hidden = true;
    article.append(head, el("p", "playlist-size muted", `${playlist.size} songs`),
                   el("ul", "profile"), el("p", "reason"), tracks, result);
    article.querySelector(".profile").replaceChildren(...profileItems(playlist.profile));
    const reason = article.querySelector(".reason");
    reason.hidden = !playlist.reason;
    if (playlist.reason) reason.append(el("span", "muted", "Why it is here: "), playlist.reason);
    return article;
  }

  function renderPlaylists(state) {
    const signature = JSON.stringify([state.task_id, state.playlists.map((p) => [p.id, p.name, p.size])]);
    const retired = state.retired || [];
    if (signature !== shownSet) {     // redraw only when the set changes: open lists and ticks stay put
      shownSet = signature;
      cards.replaceChildren(...state.playlists.map(card));
      document.getElementById("retired-list").replaceChildren(...retired.map((playlist) => {
        const item = el("li", null, playlist.name);
        item.dataset.playlistId = playlist.id;
        return item;
      }));
      document.getElementById("push-summary").hidden = true;
      document.getElementById("select-all").checked = false;
      const last = state.last;   // a run started with "push" pushed its playlists when it ended
      if (last && last.id === state.task_id && last.details && last.details.pushed) {
        showReport(last.details.pushed, "When the run ended, it");
      }
    }
    const count = state.playlists.length;
    const kept = state.playlists.filter((p) => p.status === "kept").length;
    sonarium.text(document.getElementById("result-title"), count ? `${count} playlists` : "Playlists");
    sonarium.text(document.getElementById("result-summary"), count
      ? `${kept} kept from the last run, ${count - kept} new` + (retired.length ? `, ${retired.length} retired` : "")
        + ". Open a playlist's songs to read them; tick playlists to push only those."
      : "No automatic playlists yet." + (document.getElementById("clustering-form")
        ? " Start a search above." : " An admin starts the search."));
    document.getElementById("push-controls").hidden = count === 0;
    document.getElementById("retired").hidden = retired.length === 0;
    const note = document.getElementById("naming-note");
    const naming = state.naming || {};
    note.hidden = !naming.note;
    sonarium.text(note, naming.note);
  }

  // -- refreshing ----------------------------------------------------------------------------------------

  async function refresh() {
    const state = await sonarium.api("/api/clustering");
    renderRun(state.running, state.last);
    renderPlaylists(state);
    if (form) document.getElementById("start").disabled = Boolean(state.running);
    if (runNotice && !state.running) { runNotice = false; say(""); }
    return Boolean(state.running);
  }

  let timer = null;
  let busy = false;
  let again = false;          // a refresh was asked for while one was under way
  let failures = 0;

  async function tick() {
    clearTimeout(timer);
    timer = null;
    if (busy) { again = true; return; }
    if (document.hidden) return;      // visibilitychange resumes
    busy = true;
    let running = Boolean(liveTaskId);
    try {
      running = await refresh();
      failures = 0;
      if (loadFailed) { loadFailed = false; say(""); }
    } catch (err) {
      failures += 1;
      loadFailed = true;
      say(`Could not load the automatic playlists: ${err.message}`, "error");
      if (document.getElementById("result-summary").textContent === "Loading…") {
        sonarium.text(document.getElementById("result-summary"), "");
      }
    }
    busy = false;
    if (again) { again = false; tick(); return; }
    const delay = failures ? Math.min(RUNNING_POLL_MS * 2 ** failures, MAX_BACKOFF_MS)
      : running ? RUNNING_POLL_MS : IDLE_POLL_MS;
    timer = setTimeout(tick, delay);
  }

  document.addEventListener("visibilitychange", () => { if (!document.hidden && timer === null) tick(); });

  // -- starting and cancelling (admins) --------------------------------------------------------------------

  function startBody() {
    const body = { preset: form.querySelector("input[name=preset]:checked").value };
    const numbers = { runs: "runs", playlists: "playlists", min_size: "min-size", max_size: "max-size",
                      max_per_artist: "max-per-artist", seed: "seed" };
    for (const [key, id] of Object.entries(numbers)) {
      const raw = document.getElementById(id).value.trim();
      if (raw !== "") body[key] = Number(raw);
    }
    const boxes = [...form.querySelectorAll("input[name=algorithm]")];
    const chosen = boxes.filter((box) => box.checked).map((box) => box.value);
    if (!chosen.length) throw new Error("Tick at least one algorithm.");
    if (chosen.length < boxes.length) body.algorithms = chosen;
    if (!document.getElementById("ai-names").checked) body.ai_names = false;   // the server's default: on
    if (document.getElementById("push").checked) body.push = true;              // the server's default: off
    return body;
  }

  if (form) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const start = document.getElementById("start");
      start.disabled = true;
      try {
        await sonarium.api("/api/clustering", { method: "POST", body: startBody() });
        say("Search started.", "ok");
        runNotice = true;
        loadFailed = false;
      } catch (err) {
        say(err.message, "error");
        start.disabled = false;
        return;
      }
      await tick();
    });
  }

  if (cancel) {
    cancel.addEventListener("click", async () => {
      if (!liveTaskId) return;
      cancel.disabled = true;
      try {
        await sonarium.api(`/api/cancel/${encodeURIComponent(liveTaskId)}`, { method: "POST" });
        say("Cancelling the search…");
        runNotice = true;
      } catch (err) {
        say(err.message, "error");
        cancel.disabled = false;
      }
      await tick();
    });
  }

  // -- pushing -------------------------------------------------------------------------------------------

  function cardOf(id) { return cards.querySelector(`.playlist-card[data-playlist-id="${id}"]`); }

  function showPushed(entry) {
    const target = cardOf(entry.id);
    if (!target) return;
    const line = target.querySelector(".push-result");
    line.hidden = false;
    line.className = "push-result";
    if (/^https?:/.test(entry.url || "")) {
      const link = el("a", null, "open it");
      link.href = entry.url;
      link.target = "_blank";
      link.rel = "noopener";
      line.replaceChildren("Pushed: ", link);
    } else {
      line.replaceChildren("Pushed" + (entry.url ? " to " : "."));
      if (entry.url) line.append(el("code", "push-where", entry.url));
    }
    if (entry.note) line.append(" ", entry.note);
  }

  // The line under a card, or after a retired playlist's name, that says how its push went.
  function resultLine(id) {
    const target = cardOf(id);
    if (target) return target.querySelector(".push-result");
    const retired = document.querySelector(`#retired-list li[data-playlist-id="${id}"]`);
    if (!retired) return null;
    let line = retired.querySelector(".push-result");
    if (!line) { line = el("span", "push-result"); retired.append(" ", line); }
    return line;
  }

  function showFailed(entry) {
    const line = resultLine(entry.id);
    if (!line) return;
    line.hidden = false;
    line.className = "push-result error";
    sonarium.text(line, `Not pushed: ${entry.error}`);
  }

  function showDeleted(entry) {
    const line = resultLine(entry.id);
    if (!line) return;
    line.hidden = false;
    line.className = "push-result muted";
    sonarium.text(line, "(deleted from the media server)");
  }

  // A push's answer: a line on each card, a note on each retired playlist, a summary.
  function showReport(report, when = "") {
    const summary = document.getElementById("push-summary");
    document.querySelectorAll("#result .push-result").forEach((line) => { line.hidden = true; });
    report.pushed.forEach(showPushed);
    report.failed.forEach(showFailed);
    report.deleted.forEach(showDeleted);
    const parts = [`pushed ${report.pushed.length} playlist${report.pushed.length === 1 ? "" : "s"}`];
    if (report.deleted.length) parts.push(`deleted ${report.deleted.length} retired`);
    if (report.failed.length) parts.push(`${report.failed.length} failed`);
    const sentence = parts.join(", ") + ".";
    summary.hidden = false;
    summary.className = "notice " + (report.failed.length ? "error" : "ok");
    sonarium.text(summary, when ? `${when} ${sentence}` : sentence[0].toUpperCase() + sentence.slice(1));
  }

  async function push(ids) {
    const buttons = [document.getElementById("push-selected"), document.getElementById("push-all")];
    const summary = document.getElementById("push-summary");
    buttons.forEach((button) => { button.disabled = true; });
    summary.hidden = false;
    summary.className = "notice";
    sonarium.text(summary, "Pushing…");
    try {
      showReport(await sonarium.api("/api/clustering/push",
                                    { method: "POST", body: ids ? { playlist_ids: ids } : {} }));
    } catch (err) {
      summary.className = "notice error";
      sonarium.text(summary, err.message);
    }
    buttons.forEach((button) => { button.disabled = false; });
  }

  document.getElementById("push-all").addEventListener("click", () => push(null));
  document.getElementById("push-selected").addEventListener("click", () => {
    const ids = [...cards.querySelectorAll("input.pick-playlist:checked")].map((box) => Number(box.value));
    if (!ids.length) {
      const summary = document.getElementById("push-summary");
      summary.hidden = false;
      summary.className = "notice error";
      sonarium.text(summary, "Tick the playlists to push first, or push all.");
      return;
    }
    push(ids);
  });
  document.getElementById("select-all").addEventListener("change", (event) => {
    cards.querySelectorAll("input.pick-playlist").forEach((box) => { box.checked = event.target.checked; });
  });

  tick();
})();
