// Settings page: the media server and its settings, the folders, the AI provider;
// test the media server, save, clear saved secrets.
// Only fields the user changed are sent, so saving does not pin the environment's
// current values as overrides. Secret fields start empty; leaving one empty keeps
// the saved value, and "Clear" forgets it.
"use strict";

(() => {
  const typeSelect = document.getElementById("type");
  const boxes = { fields: document.getElementById("fields"), folders: document.getElementById("folders"),
                  ai: document.getElementById("ai"), playlists: document.getElementById("playlists") };
  const result = document.getElementById("result");
  const problem = document.getElementById("problem");
  const labels = { local: "Local music folder", navidrome: "Navidrome / Subsonic", jellyfin: "Jellyfin",
                   emby: "Emby", lyrion: "Lyrion Music Server" };
  let state = null;

  function show(message, kind) {
    result.hidden = !message;
    result.className = "notice" + (kind ? " " + kind : "");
    sonarium.text(result, message);
  }

  function secretPlaceholder(field) {
    if (field.unreadable) return "saved value cannot be read; enter it again";
    if (field.saved) return "saved (leave empty to keep)";
    if (field.set) return "set in the server's environment (leave empty to keep)";
    return "not set";
  }

  // The value a field starts with, to tell which fields the user changed.
  function initial(field) {
    if (field.secret) return "";
    return field.value || (field.choices ? field.choices[0] : "");
  }

  function clearButton(field) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "clear";
    button.dataset.clear = field.name;
    sonarium.text(button, "Clear");
    button.addEventListener("click", () => save({ values: {}, clear: [field.name] }, `Cleared ${field.name}.`));
    const holder = document.createElement("span");   // a grid cell of its own, so the button keeps its size
    holder.append(button);
    return holder;
  }

  function renderField(field) {
    const label = document.createElement("label");
    label.className = "field";
    const name = document.createElement("span");
    sonarium.text(name, field.name.toLowerCase().replace(/_/g, " "));
    const input = document.createElement(field.choices ? "select" : "input");
    input.name = field.name;
    if (field.choices) {
      input.replaceChildren(...field.choices.map((choice) => {
        const option = document.createElement("option");
        option.value = choice;
        sonarium.text(option, choice);
        return option;
      }));
    } else if (field.secret) {
      input.type = "password";
      input.placeholder = secretPlaceholder(field);
      input.autocomplete = "new-password";
    } else {
      input.type = "text";
    }
    input.value = initial(field);
    input.dataset.initial = initial(field);
    const help = document.createElement("small");
    help.className = "muted";
    sonarium.text(help, field.help);
    label.append(name, input);
    if (field.secret && field.saved) label.append(clearButton(field));
    label.append(help);
    return label;
  }

  function renderServerFields() {
    const fields = state.fields[typeSelect.value];
    if (fields.length) {
      boxes.fields.replaceChildren(...fields.map(renderField));
    } else {
      const note = document.createElement("p");
      note.className = "muted";
      sonarium.text(note, "The local folder server reads the music folder set under Folders.");
      boxes.fields.replaceChildren(note);
    }
  }

  function render() {
    typeSelect.value = state.type;
    renderServerFields();
    boxes.folders.replaceChildren(...state.folders.map(renderField));
    boxes.ai.replaceChildren(...state.ai.map(renderField));
    boxes.playlists.replaceChildren(...state.playlists.map(renderField));
    problem.hidden = !state.problem;
    sonarium.text(problem, state.problem ? "The saved settings are not complete: " + state.problem : "");
  }

  function changedValues() {
    const out = {};
    if (typeSelect.value !== state.type) out.MEDIASERVER_TYPE = typeSelect.value;
    Object.values(boxes).forEach((box) => box.querySelectorAll("input, select").forEach((input) => {
      if (input.value !== input.dataset.initial) out[input.name] = input.value;
    }));
    return out;
  }

  async function save(body, done) {
    try {
      state = await sonarium.api("/api/mediaserver", { method: "POST", body });
      render();
      show(done, "ok");
    } catch (err) { show(err.message, "error"); }
  }

  async function load() {
    state = await sonarium.api("/api/mediaserver");
    typeSelect.replaceChildren(...state.types.map((type) => {
      const option = document.createElement("option");
      option.value = type;
      sonarium.text(option, labels[type] || type);
      return option;
    }));
    render();
  }

  typeSelect.addEventListener("change", renderServerFields);

  document.getElementById("test").addEventListener("click", async (event) => {
    event.target.disabled = true;
    show("Testing…");
    try {
      const values = { ...changedValues(), MEDIASERVER_TYPE: typeSelect.value };
      const answer = await sonarium.api("/api/mediaserver/test", { method: "POST", body: { values } });
      show(answer.message, answer.ok ? "ok" : "error");
    } catch (err) { show(err.message, "error"); }
    event.target.disabled = false;
  });

  document.getElementById("settings").addEventListener("submit", (event) => {
    event.preventDefault();
    save({ values: changedValues() }, "Saved.");
  });

  load().catch((err) => show(err.message, "error"));
})();
