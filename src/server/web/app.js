// pocketlm chat app: conversations (chats.js, IndexedDB), Markdown answers (render.js), the models
// view (models.js) and the server API (api.js). Answers stream from Ollama's /api/chat (NDJSON),
// whose last line carries the prompt and generation token counts and durations.
import { call, read_ndjson, set_api_key, api_key } from "./api.js";
import * as chats from "./chats.js";
import { render_markdown, copy_text, flash } from "./render.js";
import { setup_models } from "./models.js";

const $ = (id) => document.getElementById(id);
const ui = {
  app: $("app"), sidebar: $("sidebar"), menu: $("menu"), scrim: $("scrim"),
  new_chat: $("new-chat"), search: $("search"), chat_list: $("chat-list"),
  export: $("export"), import: $("import"), import_file: $("import-file"), open_models: $("open-models"),
  chat_view: $("chat-view"), models_view: $("models-view"), close_models: $("close-models"),
  model: $("model"), title: $("chat-title"), open_settings: $("open-settings"), settings: $("settings-panel"),
  key_bar: $("key-bar"), key: $("api-key"), notice: $("notice"),
  messages: $("messages"), form: $("composer"), input: $("input"), send: $("send"), stop: $("stop"),
};

// Sampling settings: input id -> [Ollama option name, parser].
const int = (v) => (v === "" ? undefined : parseInt(v, 10));
const num = (v) => (v === "" ? undefined : parseFloat(v));
const setting_fields = {
  temperature: ["temperature", num], "top-k": ["top_k", int], "top-p": ["top_p", num], "min-p": ["min_p", num],
  "repeat-penalty": ["repeat_penalty", num], "num-ctx": ["num_ctx", int], "max-tokens": ["num_predict", int],
};

const defaults_item = "pocketlm.defaults";   // the last chat's model, system prompt and settings
const current_item = "pocketlm.current";
let all = [];           // every chat, most recent first
let chat = null;        // the open one
let streaming = null;   // {controller, chat_id} while an answer streams
let model_names = [];

function load_defaults() {
  try {
    return JSON.parse(localStorage.getItem(defaults_item)) || {};
  } catch {
    return {};
  }
}

function remember_defaults() {
  localStorage.setItem(defaults_item, JSON.stringify({ model: chat.model, system: chat.system, settings: chat.settings }));
}

function show_notice(text) {
  ui.notice.textContent = text || "";
  ui.notice.hidden = !text;
}

async function persist(c = chat) {
  c.updated = Date.now();
  await chats.save_chat(c);
  all = [c, ...all.filter((x) => x.id !== c.id)];
  render_list();
}

// ---- the chat list ----

function render_list() {
  const q = ui.search.value;
  const shown = all.filter((c) => chats.matches(c, q));
  ui.chat_list.replaceChildren(...shown.map(list_item));
}

function list_item(c) {
  const li = document.createElement("li");
  li.className = "chat-item" + (chat && c.id === chat.id ? " current" : "");
  li.dataset.testid = "chat-item";
  li.dataset.id = c.id;
  const open = document.createElement("button");
  open.type = "button";
  open.className = "chat-open";
  open.dataset.testid = "chat-open";
  open.textContent = c.title;
  open.addEventListener("click", () => { open_chat(c); close_sidebar(); });
  const rename = document.createElement("button");
  rename.type = "button";
  rename.className = "icon";
  rename.title = "Rename";
  rename.setAttribute("aria-label", "Rename " + c.title);
  rename.dataset.testid = "chat-rename";
  rename.textContent = "✎";
  rename.addEventListener("click", () => {
    const input = document.createElement("input");
    input.value = c.title;
    input.dataset.testid = "chat-rename-input";
    input.setAttribute("aria-label", "Chat name");
    const done = async (save) => {
      if (save && input.value.trim()) {
        c.title = input.value.trim();
        await persist(c);
        if (chat && chat.id === c.id) ui.title.textContent = c.title;
      } else {
        render_list();
      }
    };
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter") done(true);
      if (e.key === "Escape") done(false);
    });
    input.addEventListener("blur", () => done(true), { once: true });
    open.replaceWith(input);
    input.focus();
    input.select();
  });
  const del = document.createElement("button");
  del.type = "button";
  del.className = "icon danger";
  del.title = "Delete";
  del.setAttribute("aria-label", "Delete " + c.title);
  del.dataset.testid = "chat-delete";
  del.textContent = "×";
  del.addEventListener("click", async () => {
    if (del.dataset.armed !== "1") {   // a second click within 4 s deletes
      del.dataset.armed = "1";
      del.textContent = "Delete?";
      setTimeout(() => { del.dataset.armed = ""; del.textContent = "×"; }, 4000);
      return;
    }
    if (streaming && streaming.chat_id === c.id) streaming.controller.abort();
    await chats.delete_chat(c.id);
    all = all.filter((x) => x.id !== c.id);
    if (chat && chat.id === c.id) open_chat(all[0] || fresh_chat());
    else render_list();
  });
  li.append(open, rename, del);
  return li;
}

function fresh_chat() {
  const d = load_defaults();
  return chats.new_chat({ model: d.model || ui.model.value, system: d.system, settings: d.settings });
}

// Shows chat `c` (not saved until it has a message).
function open_chat(c) {
  if (streaming) streaming.controller.abort();
  chat = c;
  localStorage.setItem(current_item, c.id);
  ui.title.textContent = c.title;
  fill_settings();
  if (model_names.includes(c.model)) ui.model.value = c.model;
  else if (!c.model) c.model = ui.model.value;
  render_messages();
  render_list();
  update_buttons();
}

// ---- settings (per chat) ----

function fill_settings() {
  $("system").value = chat.system || "";
  for (const [id, [name]] of Object.entries(setting_fields)) {
    $(id).value = chat.settings[name] ?? "";
  }
  $("think").value = chat.settings.think === undefined ? "" : String(chat.settings.think);
}

function read_settings() {
  chat.system = $("system").value;
  const s = {};
  for (const [id, [name, parse]] of Object.entries(setting_fields)) {
    const v = parse($(id).value.trim());
    if (v !== undefined && !Number.isNaN(v)) s[name] = v;
  }
  const think = $("think").value;
  if (think) s.think = think === "true";
  chat.settings = s;
  remember_defaults();
  if (chat.messages.length) persist();
}

// ---- messages ----

function render_messages() {
  ui.messages.replaceChildren();
  if (chat.messages.length === 0) {
    const empty = document.createElement("p");
    empty.className = "empty";
    empty.textContent = "Pick a model and say something.";
    ui.messages.append(empty);
  }
  const views = chat.messages.map((m, i) => message_view(m, i));
  ui.messages.append(...views.map((v) => v.root));
  scroll_to_end(true);
  return views;
}

function button(label, testid, on_click, title) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  b.dataset.testid = testid;
  if (title) b.title = title;
  b.addEventListener("click", on_click);
  return b;
}

function message_view(msg, index) {
  const root = document.createElement("div");
  root.className = "msg " + msg.role;
  root.dataset.testid = msg.role + "-message";
  const view = { root, msg };
  const actions = document.createElement("div");
  actions.className = "msg-actions";
  const copy = button("Copy", "copy", async () => flash(copy, (await copy_text(msg.content)) ? "Copied" : "Failed"));
  if (msg.role === "assistant") {
    view.thinking = document.createElement("details");
    view.thinking.className = "thinking";
    view.thinking.dataset.testid = "thinking";
    view.thinking_label = document.createElement("summary");
    view.thinking_text = document.createElement("div");
    view.thinking_text.className = "thinking-text";
    view.thinking.append(view.thinking_label, view.thinking_text);
    view.content = document.createElement("div");
    view.content.className = "answer markdown";
    view.content.dataset.testid = "assistant-text";
    view.stats = document.createElement("div");
    view.stats.className = "stats";
    view.stats.dataset.testid = "stats";
    view.error = document.createElement("div");
    view.error.className = "error";
    view.error.dataset.testid = "error";
    view.error.setAttribute("role", "alert");
    actions.append(copy, button("Regenerate", "regenerate", () => regenerate(index), "Answer again with a new seed"));
    root.append(view.thinking, view.content, view.error, view.stats, actions);
  } else {
    view.content = document.createElement("div");
    view.content.className = "user-text";
    view.content.dataset.testid = "user-text";
    actions.append(copy, button("Edit", "edit", () => edit_turn(view, index)));
    root.append(view.content, actions);
  }
  update_view(view);
  return view;
}

function update_view(view) {
  const { msg } = view;
  if (msg.role !== "assistant") {
    view.content.textContent = msg.content;
    return;
  }
  render_markdown(view.content, msg.content);
  view.thinking.hidden = !msg.reasoning;
  view.thinking_text.textContent = msg.reasoning || "";
  view.thinking_label.textContent = msg.thinking_ms === undefined
    ? "Thinking…" : `Thought for ${(msg.thinking_ms / 1000).toFixed(1)} s`;
  view.stats.textContent = msg.stats || "";
  view.stats.hidden = !msg.stats;
  view.error.textContent = msg.error || "";
  view.error.hidden = !msg.error;
}

function scroll_to_end(force) {
  const m = ui.messages;
  if (force || m.scrollHeight - m.scrollTop - m.clientHeight < 80) m.scrollTop = m.scrollHeight;
}

// Edit a user turn: the turns after it are dropped and the edited one is sent again.
function edit_turn(view, index) {
  if (streaming) return;
  const area = document.createElement("textarea");
  area.value = view.msg.content;
  area.dataset.testid = "edit-input";
  area.rows = 3;
  const save = button("Send", "edit-send", () => {
    const text = area.value.trim();
    if (!text) return;
    chat.messages = chat.messages.slice(0, index);
    generate(text);
  });
  const cancel = button("Cancel", "edit-cancel", () => render_messages());
  area.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) save.click();
    if (e.key === "Escape") cancel.click();
  });
  const box = document.createElement("div");
  box.className = "edit-box";
  const row = document.createElement("div");
  row.className = "msg-actions";
  row.append(save, cancel);
  box.append(area, row);
  view.root.replaceChildren(box);
  area.focus();
}

// Regenerate the answer at `index` with a new seed.
function regenerate(index) {
  if (streaming) return;
  chat.messages = chat.messages.slice(0, index);
  render_messages();
  generate(null);
}

function update_buttons() {
  const busy = streaming !== null;
  ui.send.hidden = busy;
  ui.stop.hidden = !busy;
  ui.send.disabled = !ui.model.value;
  ui.model.disabled = busy;
  for (const b of ui.messages.querySelectorAll("[data-testid=regenerate], [data-testid=edit]")) b.disabled = busy;
}

// ---- generation ----

function stats_text(final, run, stopped) {
  const rate = (n, ns) => (n > 0 && ns > 0 ? ` at ${(n / (ns / 1e9)).toFixed(1)} tokens/s` : "");
  const parts = [];
  if (final) {
    parts.push(`prompt ${final.prompt_eval_count ?? 0} tokens${rate(final.prompt_eval_count, final.prompt_eval_duration)}`);
    parts.push(`answer ${final.eval_count ?? 0} tokens${rate(final.eval_count, final.eval_duration)}`);
  } else if (run.chunks) {
    const s = (run.last - run.first) / 1000;
    parts.push(`answer ${run.chunks} tokens${run.chunks > 1 && s > 0 ? ` at ${((run.chunks - 1) / s).toFixed(1)} tokens/s` : ""}`);
  }
  if (stopped) parts.push("stopped");
  return parts.join(" · ");
}

function request_body(seed) {
  const messages = [];
  if (chat.system.trim()) messages.push({ role: "system", content: chat.system });
  for (const m of chat.messages) {
    if (m.content) messages.push({ role: m.role, content: m.content });
  }
  const { think, ...options } = chat.settings;
  const body = { model: chat.model, messages, stream: true, options: { ...options, seed } };
  if (think !== undefined) body.think = think;
  return body;
}

// Sends the conversation (plus `text` as a new user turn, when given) and streams the answer.
async function generate(text) {
  if (streaming || !ui.model.value) return;
  chat.model = ui.model.value;
  if (text !== null) {
    if (chat.messages.length === 0) {
      chat.title = chats.title_from(text);
      ui.title.textContent = chat.title;
    }
    chat.messages.push({ role: "user", content: text });
  }
  const seed = Math.floor(Math.random() * 2 ** 31);
  const body = request_body(seed);
  const answer = { role: "assistant", content: "", seed };
  chat.messages.push(answer);
  const view = render_messages().at(-1);
  await persist();

  const own = chat;
  streaming = { controller: new AbortController(), chat_id: own.id };
  view.root.classList.add("streaming");
  update_buttons();
  const run = { chunks: 0, first: 0, last: 0, think_start: 0 };
  let final = null;
  let stopped = false;
  let frame = 0;
  const paint = () => {
    frame = 0;
    if (chat === own) {
      update_view(view);
      scroll_to_end(false);
    }
  };
  try {
    const res = await call("/api/chat", { method: "POST", body, signal: streaming.controller.signal });
    await read_ndjson(res.body, (o) => {
      if (o.done) {
        final = o;
        return;
      }
      const m = o.message || {};
      const now = performance.now();
      if (m.thinking) {
        if (!run.think_start) run.think_start = now;
        answer.reasoning = (answer.reasoning || "") + m.thinking;
      }
      if (m.content) {
        if (run.think_start && answer.thinking_ms === undefined) answer.thinking_ms = now - run.think_start;
        answer.content += m.content;
      }
      if (!m.content && !m.thinking) return;
      if (run.chunks++ === 0) run.first = now;
      run.last = now;
      frame ||= requestAnimationFrame(paint);
    });
  } catch (e) {
    if (e.name === "AbortError") stopped = true;
    else answer.error = e.message;
  }
  if (frame) cancelAnimationFrame(frame);
  if (run.think_start && answer.thinking_ms === undefined) answer.thinking_ms = performance.now() - run.think_start;
  streaming.controller.abort();
  streaming = null;
  view.root.classList.remove("streaming");
  answer.stats = stats_text(final, run, stopped) || (stopped ? "stopped" : "");
  if (final && final.done_reason === "length") answer.stats += " · hit max tokens";
  await persist(own);
  if (chat === own) {
    update_view(view);
    scroll_to_end(false);
  }
  update_buttons();
  ui.input.focus();
}

// ---- models ----

function fill_model_picker(names) {
  model_names = names;
  const keep = (chat && chat.model) || ui.model.value;
  ui.model.replaceChildren(...names.map((n) => new Option(n, n)));
  if (names.includes(keep)) ui.model.value = keep;
  if (chat && !chat.model) chat.model = ui.model.value;
  show_notice(names.length ? "" : "No models yet: open Models to pull one.");
  update_buttons();
}

const models = setup_models({
  on_change: fill_model_picker, show_error: show_notice, chat_context: () => chat && chat.settings.num_ctx,
});

function show_models(open) {
  ui.models_view.hidden = !open;
  ui.chat_view.hidden = open;
  if (open) {
    close_sidebar();
    models.refresh();
  }
}

// ---- the API key ----

window.addEventListener("pocketlm:need-key", (e) => {
  show_notice(e.detail.had_key ? "The server did not accept the API key." : "This server needs an API key.");
  ui.key_bar.hidden = false;
  ui.key.focus();
});

ui.key_bar.addEventListener("submit", (e) => {
  e.preventDefault();
  set_api_key(ui.key.value.trim());
  ui.key.value = "";
  ui.key_bar.hidden = true;
  show_notice("");
  models.refresh();
});

// ---- export / import ----

ui.export.addEventListener("click", () => {
  const blob = new Blob([chats.export_text(all)], { type: "application/json" });
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = `pocketlm-chats-${new Date().toISOString().slice(0, 10)}.json`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
});

ui.import.addEventListener("click", () => ui.import_file.click());
ui.import_file.addEventListener("change", async () => {
  const file = ui.import_file.files[0];
  ui.import_file.value = "";
  if (!file) return;
  try {
    const imported = chats.parse_import(await file.text());
    for (const c of imported) await chats.save_chat(c);
    all = await chats.all_chats();
    render_list();
    show_notice("");
  } catch (e) {
    show_notice("Import failed: " + e.message);
  }
});

// ---- wiring ----

function close_sidebar() {
  ui.app.classList.remove("sidebar-open");
}

ui.menu.addEventListener("click", () => ui.app.classList.toggle("sidebar-open"));
ui.scrim.addEventListener("click", close_sidebar);
ui.new_chat.addEventListener("click", () => {
  show_models(false);
  open_chat(fresh_chat());
  close_sidebar();
  ui.input.focus();
});
$("new-chat-bar").addEventListener("click", () => ui.new_chat.click());
ui.search.addEventListener("input", render_list);
ui.open_models.addEventListener("click", () => show_models(true));
ui.close_models.addEventListener("click", () => show_models(false));
ui.open_settings.addEventListener("click", () => {
  ui.settings.hidden = !ui.settings.hidden;
  ui.open_settings.setAttribute("aria-expanded", String(!ui.settings.hidden));
});
ui.settings.addEventListener("change", read_settings);
ui.model.addEventListener("change", () => {
  chat.model = ui.model.value;
  remember_defaults();
  if (chat.messages.length) persist();
  update_buttons();
});

ui.form.addEventListener("submit", (e) => {
  e.preventDefault();
  const text = ui.input.value.trim();
  if (!text || streaming || !ui.model.value) return;
  ui.input.value = "";
  fit_input();
  generate(text);
});

ui.input.addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    ui.form.requestSubmit();
  }
});

function fit_input() {
  ui.input.style.height = "auto";
  ui.input.style.height = ui.input.scrollHeight + 2 + "px";
}
ui.input.addEventListener("input", fit_input);
ui.stop.addEventListener("click", () => streaming && streaming.controller.abort());

// Desktop shortcuts: Ctrl+Enter send, Esc stop (or close a panel), Ctrl+Shift+O new chat,
// Ctrl+K search chats, Ctrl+, settings.
document.addEventListener("keydown", (e) => {
  const ctrl = e.ctrlKey || e.metaKey;
  if (e.key === "Escape") {
    if (streaming) streaming.controller.abort();
    else if (!ui.settings.hidden) ui.settings.hidden = true;
    else if (!ui.models_view.hidden) show_models(false);
    else close_sidebar();
  } else if (ctrl && e.key === "Enter" && document.activeElement === ui.input && !e.defaultPrevented) {
    e.preventDefault();
    ui.form.requestSubmit();
  } else if (ctrl && e.shiftKey && e.key.toLowerCase() === "o") {
    e.preventDefault();
    ui.new_chat.click();
  } else if (ctrl && e.key.toLowerCase() === "k") {
    e.preventDefault();
    ui.app.classList.add("sidebar-open");
    ui.search.focus();
  } else if (ctrl && e.key === ",") {
    e.preventDefault();
    ui.open_settings.click();
  }
});

// The shell works offline once the service worker has it (secure contexts only: localhost, or
// https; a phone on http://LAN-address gets the page without it).
if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/sw.js").catch(() => {});
}

async function start() {
  all = await chats.all_chats();
  const saved = all.find((c) => c.id === localStorage.getItem(current_item));
  open_chat(saved || all[0] || fresh_chat());
  if (!navigator.onLine) show_notice("Offline: your chats are here; answers need the server.");
  await models.refresh();
  if (api_key()) ui.key_bar.hidden = true;
}

start();
