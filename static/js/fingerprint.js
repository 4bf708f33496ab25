// Sonic fingerprint page: the user's most played songs and what sounds like them, as a playlist.
// Credentials typed here go in the POST body of this one request; nothing keeps them.
"use strict";

(() => {
  const SERVER_NAMES = { navidrome: "Navidrome", jellyfin: "Jellyfin", emby: "Emby" };
  const form = document.getElementById("fingerprint-form");
  const run = document.getElementById("run");
  const notice = document.getElementById("notice");
  const results = document.getElementById("results");
  let credentialSet = null;   // the inputs of the configured server, when it takes per-user credentials
  let shown = null;           // the last answer, what the playlist saves

  function say(message, isError) {
    notice.hidden = !message;
    notice.className = "notice" + (isError ? " error" : "");
    sonarium.text(notice, message);
  }

  // Show the credential fields of the configured media server (the page names it), if it has any.
  function showCredentials() {
    const server = form.dataset.server;
    credentialSet = server ? document.querySelector(`.credential-set[data-server="${server}"]`) : null;
    if (!credentialSet) return;
    credentialSet.hidden = false;
    sonarium.text(document.getElementById("server-label"), `(your ${SERVER_NAMES[server]} account)`);
    document.getElementById("credentials").hidden = false;
  }

  function credentials() {
    if (!credentialSet) return null;
    const values = {};
    credentialSet.querySelectorAll("input[data-key]").forEach((input) => {
      if (input.value.trim()) values[input.dataset.key] = input.value;
    });
    return Object.keys(values).length ? values : null;
  }

  function shortDate(iso) {
    return iso ? iso.slice(0, 10) : "";
  }

  const playlist = sonarium.playlistForm(document.getElementById("playlist"), {
    kind: "fingerprint",
    defaultName: "Sonic fingerprint",
    itemIds: () => (shown ? shown.tracks.map((track) => track.item_id) : []),
    params: () => (shown ? { n: shown.request.n, half_life_days: shown.half_life_days } : {}),
  });

  function render(answer) {
    shown = answer;
    const seeds = answer.seeds.length;
    const history = answer.history;
    let summary = `${answer.tracks.length} songs: ${seeds} of your most played and the closest to their ` +
                  `blended sound, ${sonarium.orderSummary(answer.order)}. From ${history.records} played songs, ` +
                  `${history.matched} are analysed; plays count half as much every ${answer.half_life_days} days.`;
    if (answer.tracks.length < answer.request.n) summary += " The library has no more songs to offer.";
    sonarium.text(document.getElementById("results-summary"), summary);
    sonarium.trackTable(document.getElementById("seed-table"), answer.seeds, [
      { label: "Plays", value: (track) => track.play_count },
      { label: "Last played", value: (track) => shortDate(track.last_played) },
      { label: "Weight", value: (track) => track.weight.toFixed(2) },
    ]);
    sonarium.trackTable(document.getElementById("result-table"), answer.tracks);
    playlist.reset();
    results.hidden = false;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = document.getElementById("n");
    const request = { n: Number(input.value.trim() || input.defaultValue), ...sonarium.orderChoice() };
    const given = credentials();
    run.disabled = true;
    say("Reading your listening history…");
    try {
      const answer = await sonarium.api("/api/sonic_fingerprint", {
        method: "POST", body: given ? { ...request, credentials: given } : request });
      answer.request = request;
      say("");
      render(answer);
    } catch (err) {
      say(err.message, true);
    }
    run.disabled = false;
  });

  showCredentials();
})();
