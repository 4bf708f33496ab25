// Pieces every feature page shares: the song picker (autocomplete), the results
// table and the "create playlist" form.
"use strict";

(() => {
  const MIN_CHARS = 3;
  const DEBOUNCE_MS = 150;

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) sonarium.text(node, text);
    return node;
  }

  function describe(track) {
    return [track.title || "(untitled)", track.artist].filter(Boolean).join(" — ");
  }

  // Autocomplete on a text input: from the 3rd character it lists matching
  // songs under the input; a click, or Enter on the highlighted one, picks it.
  sonarium.trackPicker = (input, { onPick } = {}) => {
    const wrapper = el("span", "picker");
    input.parentNode.insertBefore(wrapper, input);
    wrapper.appendChild(input);
    const list = el("ul", "picker-options");
    list.id = `${input.id || "picker"}-options`;
    list.setAttribute("role", "listbox");
    list.hidden = true;
    wrapper.appendChild(list);
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-controls", list.id);
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("autocomplete", "off");

    const picker = { track: null };
    let options = [];
    let highlighted = -1;
    let sequence = 0;   // answers to older keystrokes are dropped
    let timer = null;

    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      highlighted = -1;
    }

    function highlight(index) {
      highlighted = index;
      [...list.children].forEach((li, n) => li.setAttribute("aria-selected", String(n === index)));
    }

    function pick(track) {
      picker.track = track;
      input.value = describe(track);
      close();
      if (onPick) onPick(track);
    }

    function show(tracks, message) {
      options = tracks;
      const items = tracks.map((track, n) => {
        const li = el("li", null);
        li.setAttribute("role", "option");
        li.append(el("span", "picker-title", track.title || "(untitled)"),
                  el("span", "picker-detail", [track.artist, track.album].filter(Boolean).join(" · ")));
        li.addEventListener("mousedown", (event) => { event.preventDefault(); pick(track); });
        li.addEventListener("mouseenter", () => highlight(n));
        return li;
      });
      if (message) items.push(el("li", "picker-message", message));
      list.replaceChildren(...items);
      list.hidden = items.length === 0;
      input.setAttribute("aria-expanded", String(!list.hidden));
      highlight(tracks.length ? 0 : -1);
    }

    async function lookUp(text) {
      const mine = ++sequence;
      try {
        const found = await sonarium.api(`/api/search_tracks?q=${encodeURIComponent(text)}&limit=12`);
        if (mine === sequence) show(found.tracks, found.tracks.length ? null : "No analysed song matches.");
      } catch (err) {
        if (mine === sequence) show([], err.message);
      }
    }

    input.addEventListener("input", () => {
      picker.track = null;
      clearTimeout(timer);
      const text = input.value.trim();
      if (text.length < MIN_CHARS) { sequence++; close(); return; }
      timer = setTimeout(() => lookUp(text), DEBOUNCE_MS);
    });
    input.addEventListener("keydown", (event) => {
      if (list.hidden) return;
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        const step = event.key === "ArrowDown" ? 1 : -1;
        if (options.length) highlight((highlighted + step + options.length) % options.length);
      } else if (event.key === "Enter") {
        event.preventDefault();
        if (options[highlighted]) pick(options[highlighted]);
      } else if (event.key === "Escape") {
        close();
      }
    });
    input.addEventListener("blur", close);

    picker.clear = () => { picker.track = null; input.value = ""; close(); };
    return picker;
  };

  sonarium.formatDuration = (seconds) => {
    if (seconds == null) return "";
    const whole = Math.round(seconds);
    return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
  };

  // The order and energy shape chosen with templates/parts/order_fields.html.
  sonarium.orderChoice = () => ({
    order: document.getElementById("order").value,
    shape: document.getElementById("shape").value,
  });

  // How an answer's list is ordered, in words (its "order" summary, similarity/craft.py).
  sonarium.orderSummary = (order) => {
    if (!order || order.order !== "smooth") return "closest first";
    const shapes = { rising: ", energy rising", arc: ", energy warming up, peaking and winding down" };
    const repeats = order.artist_repeats
      ? `; ${order.artist_repeats} artist repeat${order.artist_repeats === 1 ? "" : "s"} could not be spaced out`
      : "";
    return `ordered so each song flows into the next${shapes[order.shape] || ""}${repeats}`;
  };

  // Listening before pushing: one player for the page, so one song plays at a time. It asks only
  // Sonarium (/api/stream/...), which fetches the audio from the media server: no media-server
  // address or credential is ever in the page.
  const preview = { audio: null, button: null };

  function previewLabel(button, playing) {
    button.setAttribute("aria-label", `${playing ? "Pause" : "Play"} ${button.dataset.song}`);
    button.title = playing ? "Pause" : "Listen (streamed through Sonarium)";
    sonarium.text(button, playing ? "❚❚" : "▶");
  }

  // Why a song did not play, from the stream's own JSON error; a media server without previews
  // (or not configured) turns every play button off with that reason. Only a broken connection
  // to a stream that answers again leaves the button on, to try again.
  async function explainFailure(button, code) {
    let reason = {
      [MediaError.MEDIA_ERR_NETWORK]: "the connection broke off",
      [MediaError.MEDIA_ERR_DECODE]: "the file could not be decoded",
    }[code] || "your browser cannot play this file's format";
    let again = code === MediaError.MEDIA_ERR_NETWORK;
    preview.button = null;   // the next press loads the song afresh
    try {
      await sonarium.api(button.dataset.src, { headers: { "Accept": "application/json", "Range": "bytes=0-0" } });
    } catch (err) {
      reason = err.message;
      again = false;
      if (err.status === 409) {
        document.querySelectorAll("button.play").forEach((each) => {
          each.disabled = true;
          each.title = `No preview: ${reason}`;
        });
      }
    }
    button.disabled = !again;
    button.title = `Cannot play: ${reason}`;
    button.setAttribute("aria-label", `Cannot play ${button.dataset.song}: ${reason}`);
  }

  function previewPlayer() {
    if (preview.audio) return preview.audio;
    const audio = el("audio", "preview-player");
    audio.preload = "none";
    // After a failure no button is the player's (preview.button is null) until one is pressed.
    audio.addEventListener("playing", () => preview.button && previewLabel(preview.button, true));
    audio.addEventListener("pause", () => preview.button && previewLabel(preview.button, false));
    audio.addEventListener("error", () => preview.button && explainFailure(preview.button, audio.error.code));
    document.body.appendChild(audio);
    preview.audio = audio;
    return audio;
  }

  sonarium.playButton = (track) => {
    const button = el("button", "play");
    button.type = "button";
    button.dataset.song = describe(track);
    button.dataset.src = `/api/stream/${encodeURIComponent(track.item_id)}`;
    previewLabel(button, false);
    button.addEventListener("click", () => {
      const audio = previewPlayer();
      if (preview.button === button) {
        if (audio.paused) audio.play().catch(() => {}); else audio.pause();   // failures reach "error"
        return;
      }
      if (preview.button) { audio.pause(); previewLabel(preview.button, false); }
      preview.button = button;
      audio.src = button.dataset.src;
      audio.play().catch(() => {});
    });
    return button;
  };

  // A table of tracks: #, title, artist, album, length, then the page's own columns
  // ([{label, value: (track) => text}]), then "Why" when the tracks say why they are there.
  // Each row's first cell starts with its play button.
  sonarium.trackTable = (container, tracks, extraColumns = []) => {
    if (!tracks.length) {
      container.replaceChildren(el("p", "muted", "No tracks."));
      return;
    }
    const columns = [
      { label: "#", value: (track, n) => n + 1 },
      { label: "Title", value: (track) => track.title || "(untitled)" },
      { label: "Artist", value: (track) => track.artist },
      { label: "Album", value: (track) => track.album },
      { label: "Length", value: (track) => sonarium.formatDuration(track.duration_s) },
      ...extraColumns,
    ];
    if (tracks[0].why) columns.push({ label: "Why", value: (track) => track.why.text });
    const table = el("table", "tracks");
    const head = el("tr");
    columns.forEach((column) => head.appendChild(el("th", null, column.label)));
    table.appendChild(el("thead")).appendChild(head);
    const body = table.appendChild(el("tbody"));
    tracks.forEach((track, n) => {
      const row = el("tr");
      row.dataset.itemId = track.item_id;
      columns.forEach((column) => row.appendChild(el("td", null, column.value(track, n))));
      row.firstChild.prepend(sonarium.playButton(track));
      body.appendChild(row);
    });
    container.replaceChildren(table);
  };

  // Name + "Create playlist": pushes the page's current tracks, in order, to the media server.
  sonarium.playlistForm = (container, { kind, defaultName = "", itemIds, params = () => ({}) }) => {
    const form = el("div", "playlist-form");
    const name = el("input", "playlist-name");
    name.type = "text";
    name.maxLength = 120;
    name.placeholder = "Playlist name";
    name.setAttribute("aria-label", "Playlist name");
    name.value = defaultName;
    const button = el("button", "create-playlist", "Create playlist");
    const result = el("p", "playlist-result");
    result.setAttribute("role", "status");
    result.hidden = true;
    form.append(name, button, result);
    container.replaceChildren(form);

    function report(message, isError, link) {
      result.hidden = false;
      result.className = "playlist-result" + (isError ? " error" : "");
      sonarium.text(result, message);
      if (link) {
        const anchor = el("a", null, "open");
        anchor.href = link;
        anchor.target = "_blank";
        anchor.rel = "noopener";
        result.append(" ", anchor);
      }
    }

    button.addEventListener("click", async () => {
      const ids = itemIds();
      if (!name.value.trim()) { report("Give the playlist a name.", true); return; }
      if (!ids.length) { report("There are no tracks to save yet.", true); return; }
      button.disabled = true;
      try {
        const made = await sonarium.api("/api/create_playlist", {
          method: "POST", body: { name: name.value, item_ids: ids, kind, params: params() } });
        const where = made.url && !/^https?:/.test(made.url) ? ` (${made.url})` : "";
        // The note says when a playlist of that name, not Sonarium's to replace, made it save a new one.
        report(`Created “${made.name}” on ${made.provider_label} with ${made.tracks} tracks${where}.`
               + (made.note ? ` ${made.note}` : ""), false, /^https?:/.test(made.url || "") ? made.url : null);
      } catch (err) {
        report(err.message, true);
      }
      button.disabled = false;
    });
    return { setName(value) { name.value = value; }, reset() { result.hidden = true; } };
  };
})();
