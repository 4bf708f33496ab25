// Similar songs page: pick a seed, list the closest songs, save them as a playlist.
"use strict";

(() => {
  const form = document.getElementById("similar-form");
  const run = document.getElementById("run");
  const notice = document.getElementById("notice");
  const results = document.getElementById("results");
  let shown = null;   // the last answer of /api/similar_tracks, what the playlist saves

  function say(message, isError) {
    notice.hidden = !message;
    notice.className = "notice" + (isError ? " error" : "");
    sonarium.text(notice, message);
  }

  const picker = sonarium.trackPicker(document.getElementById("seed"), { onPick: () => say("") });
  const playlist = sonarium.playlistForm(document.getElementById("playlist"), {
    kind: "similar",
    itemIds: () => (shown ? shown.tracks.map((track) => track.item_id) : []),
    params: () => (shown ? { ...shown.request, index_version: shown.index_version } : {}),
  });

  function render(answer) {
    shown = answer;
    const seed = answer.seed;
    sonarium.text(document.getElementById("results-title"),
                  `Similar to ${seed.title || "(untitled)"}${seed.artist ? " — " + seed.artist : ""}`);
    const left = [];
    const { duplicates, artist_cap: capped } = answer.excluded;
    if (duplicates) left.push(`${duplicates} other recordings of songs already listed`);
    if (capped) left.push(`${capped} songs over the per-artist limit`);
    let summary = `${answer.tracks.length} songs, ${sonarium.orderSummary(answer.order)}`;
    summary += left.length ? `; left out: ${left.join(", ")}.` : ".";
    if (answer.tracks.length < answer.request.n) summary += " The library has no more songs to offer.";
    sonarium.text(document.getElementById("results-summary"), summary);
    sonarium.trackTable(document.getElementById("result-table"), answer.tracks);
    playlist.setName(`Similar to ${seed.title || "song"}`);
    playlist.reset();
    results.hidden = false;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!picker.track) { say("Pick a song from the list first: type three letters and choose one.", true); return; }
    const request = { item_id: picker.track.item_id, n: document.getElementById("n").value.trim(),
                      variety: document.getElementById("variety").value, ...sonarium.orderChoice() };
    const cap = document.getElementById("max-per-artist").value.trim();
    if (cap) request.max_per_artist = cap;
    run.disabled = true;
    say("Searching…");
    try {
      const answer = await sonarium.api(`/api/similar_tracks?${new URLSearchParams(request)}`);
      answer.request = { ...request, n: Number(request.n) };
      say("");
      render(answer);
    } catch (err) {
      say(err.message, true);
    }
    run.disabled = false;
  });
})();
