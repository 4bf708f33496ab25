// Settings page: pick the media server, edit its settings, test and save them.
// Secret fields start empty; leaving one empty keeps the saved value.
"use strict";

(() => {
  const typeSelect = document.getElementById("type");
  const fieldsBox = document.getElementById("fields");
  const result = document.getElementById("result");
  const labels = { local: "Local music folder", navidrome: "Navidrome / Subsonic", jellyfin: "Jellyfin",
                   emby: "Emby", lyrion: "Lyrion Music Server" };
  let state = null;

  function show(message, kind) {
    result.hidden = !message;
    result.className = "notice" + (kind ? " " + kind : "");
    sonarium.text(result, message);
  }

  function renderFields() {
    fieldsBox.replaceChildren(...state.fields[typeSelect.value].map((field) => {
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
        input.value = field.value || field.choices[0];
      } else if (field.secret) {
        input.type = "password";
        input.placeholder = field.set ? "saved (leave empty to keep)" : "not set";
        input.autocomplete = "new-password";
      } else {
        input.type = "text";
        input.value = field.value || "";
      }
      const help = document.createElement("small");
      help.className = "muted";
      sonarium.text(help, field.help);
      label.append(name, input, help);
      return label;
    }));
  }

  function values() {
    const out = { MEDIASERVER_TYPE: typeSelect.value };
    fieldsBox.querySelectorAll("input, select").forEach((input) => { out[input.name] = input.value; });
    return out;
  }

  async function load() {
    state = await sonarium.api("/api/mediaserver");
    typeSelect.replaceChildren(...state.types.map((type) => {
      const option = document.createElement("option");
      option.value = type;
      sonarium.text(option, labels[type] || type);
      return option;
    }));
    typeSelect.value = state.type;
    renderFields();
  }

  typeSelect.addEventListener("change", renderFields);

  document.getElementById("test").addEventListener("click", async (event) => {
    event.target.disabled = true;
    show("Testing…");
    try {
      const answer = await sonarium.api("/api/mediaserver/test", { method: "POST", body: { values: values() } });
      show(answer.message, answer.ok ? "ok" : "error");
    } catch (err) { show(err.message, "error"); }
    event.target.disabled = false;
  });

  document.getElementById("mediaserver").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      state = await sonarium.api("/api/mediaserver", { method: "POST", body: { values: values() } });
      renderFields();
      show("Saved.", "ok");
    } catch (err) { show(err.message, "error"); }
  });

  load().catch((err) => show(err.message, "error"));
})();
