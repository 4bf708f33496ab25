// Song path page: pick two songs, list the path between them, save it as a playlist.
"use strict";

(() => {
  const form = document.getElementById("path-form");
  const run = document.getElementById("run");
  const notice = document.getElementById("notice");
  const reason = document.getElementById("path-reason");
  const results = document.getElementById("results");
  let shown = null;   // the last answer of /api/find_path, what the playlist saves

  function say(message, isError) {
    notice.hidden = !message;
    notice.className = "notice" + (isError ? " error" : "");
    sonarium.text(notice, message);
  }

  const start = sonarium.trackPicker(document.getElementById("start"), { onPick: () => say("") });
  const end = sonarium.trackPicker(document.getElementById("end"), { onPick: () => say("") });
  const playlist = sonarium.playlistForm(document.getElementById("playlist"), {
    kind: "path",
    itemIds: () => (shown ? shown.tracks.map((track) => track.item_id) : []),
    params: () => (shown ? { ...shown.request, index_version: shown.index_version } : {}),
  });

  const name = (track) => track.title || "(untitled)";

  function render(answer) {
    shown = answer;
    sonarium.text(document.getElementById("results-title"), `${name(answer.start)} to ${name(answer.end)}`);
    const longest = answer.longest_step;
    const biggest = longest.words ? `; the biggest step is ${longest.words} (${longest.percent}% alike)` : "";
    sonarium.text(document.getElementById("results-summary"),
                  `${answer.length} of ${answer.requested_length} songs${biggest}.`);
    reason.hidden = !answer.reason;
    const sentence = answer.reason ? answer.reason.charAt(0).toUpperCase() + answer.reason.slice(1) + "." : "";
    sonarium.text(reason, sentence);
    sonarium.trackTable(document.getElementById("result-table"), answer.tracks);
    playlist.setName(`${name(answer.start)} to ${name(answer.end)}`);
    playlist.reset();
    results.hidden = false;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!start.track || !end.track) {
      const missing = start.track ? "end" : "start";
      say(`Pick the ${missing} song from the list first: type three letters and choose one.`, true);
      return;
    }
    const request = { start_item_id: start.track.item_id, end_item_id: end.track.item_id,
                      length: document.getElementById("length").value.trim() };
    run.disabled = true;
    say("Finding a path…");
    try {
      const answer = await sonarium.api(`/api/find_path?${new URLSearchParams(request)}`);
      answer.request = { ...request, length: Number(request.length) };
      say("");
      render(answer);
    } catch (err) {
      say(err.message, true);
    }
    run.disabled = false;
  });
})();
