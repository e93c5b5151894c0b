// The models view: the store's models with size and family, pull by name (the /api/pull NDJSON
// progress stream shown in a progress bar), details (/api/show), load/unload (/api/generate with
// no prompt; keep_alive 0 unloads) and delete (/api/delete).
import { call, call_json, read_ndjson, format_bytes } from "./api.js";

const $ = (id) => document.getElementById(id);

function el(tag, { dataset, ...props } = {}, ...children) {
  const e = Object.assign(document.createElement(tag), props);
  if (dataset) Object.assign(e.dataset, dataset);
  e.append(...children);
  return e;
}

// A lower bound of what loading needs, from the GGUF's hyperparameters: the weights (the file) plus
// an f16 KV cache of n_ctx tokens. The server's own memory plan (compute buffers and overhead
// too) is what /api/ps reports once the model is loaded; the server has no route for it before.
export function memory_estimate(info, file_size, n_ctx) {
  const arch = info["general.architecture"];
  const get = (k) => Number(info[`${arch}.${k}`]);
  const layers = get("block_count");
  const heads = get("attention.head_count");
  const kv_heads = get("attention.head_count_kv") || heads;
  const embd = get("embedding_length");
  if (!(layers > 0 && heads > 0 && embd > 0 && n_ctx > 0)) return null;
  const kv = 2 * layers * n_ctx * (embd / heads) * kv_heads * 2;
  return { kv, total: file_size + kv };
}

export function setup_models({ on_change, show_error, chat_context }) {
  const list = $("model-list");
  const form = $("pull-form");
  const name = $("pull-name");
  const progress = $("pull-progress");
  const bar = $("pull-bar");
  const status = $("pull-status");
  const details = $("model-details");
  let pulling = null;

  async function refresh() {
    let tags, ps;
    try {
      [tags, ps] = await Promise.all([call_json("/api/tags"), call_json("/api/ps")]);
    } catch (e) {
      show_error("Listing models failed: " + e.message);
      return [];
    }
    const loaded = new Map((ps.models || []).map((m) => [m.name, m]));
    const models = tags.models || [];
    list.replaceChildren(...models.map((m) => model_row(m, loaded.get(m.name))));
    if (models.length === 0) list.append(el("li", { className: "muted", textContent: "No models in the store yet: pull one below." }));
    on_change(models.map((m) => m.name));
    return models;
  }

  function model_row(m, loaded) {
    const d = m.details || {};
    const facts = [format_bytes(m.size), d.family, d.parameter_size, d.quantization_level].filter(Boolean);
    if (loaded) facts.push(`loaded, ${format_bytes(loaded.size)}${loaded.context_length ? `, ${loaded.context_length} ctx` : ""}`);
    const del = el("button", { type: "button", textContent: "Delete", className: "danger", dataset: { testid: "model-delete" } });
    del.addEventListener("click", async () => {
      if (del.dataset.armed !== "1") {   // a second click within 4 s confirms
        del.dataset.armed = "1";
        del.textContent = "Confirm delete";
        setTimeout(() => { del.dataset.armed = ""; del.textContent = "Delete"; }, 4000);
        return;
      }
      await act(() => call("/api/delete", { method: "DELETE", body: { model: m.name } }));
    });
    const info = el("button", { type: "button", textContent: "Details", dataset: { testid: "model-info" } });
    info.addEventListener("click", () => show_details(m, loaded));
    const load = el("button", {
      type: "button", textContent: loaded ? "Unload" : "Load", dataset: { testid: loaded ? "model-unload" : "model-load" },
    });
    load.addEventListener("click", () => act(() => call("/api/generate", {
      method: "POST", body: loaded ? { model: m.name, keep_alive: 0 } : { model: m.name },
    })));
    return el("li", { className: "model", dataset: { testid: "model-row", name: m.name } },
      el("div", { className: "model-name", textContent: m.name }),
      el("div", { className: "muted", textContent: facts.join(" · "), dataset: { testid: "model-facts" } }),
      el("div", { className: "row-actions" }, info, load, del));
  }

  async function act(work) {
    try {
      await work();
    } catch (e) {
      show_error(e.message);
    }
    await refresh();
  }

  // Details, and what loading would take: the file's size and the context the server plans.
  async function show_details(m, loaded) {
    details.replaceChildren(el("p", { className: "muted", textContent: "Loading details…" }));
    details.hidden = false;
    let show;
    try {
      show = await call_json("/api/show", { method: "POST", body: { model: m.name } });
    } catch (e) {
      details.replaceChildren(el("p", { className: "error", textContent: e.message }));
      return;
    }
    const info = show.model_info || {};
    const ctx_key = Object.keys(info).find((k) => k.endsWith(".context_length"));
    const d = show.details || {};
    const trained = ctx_key ? Number(info[ctx_key]) : 0;
    const n_ctx = chat_context() || trained;
    const estimate = memory_estimate(info, m.size, n_ctx);
    const device = navigator.deviceMemory ? navigator.deviceMemory * 2 ** 30 : 0;
    let need;
    if (estimate) {
      need = `at least ${format_bytes(estimate.total)} (weights + ${format_bytes(estimate.kv)} KV cache at ${n_ctx} tokens)`;
      if (device) need += estimate.total < device * 0.6 ? ", fits this device" : ", may not fit this device";
    }
    const rows = [
      ["Family", d.family], ["Parameters", d.parameter_size], ["Quantization", d.quantization_level],
      ["Format", d.format], ["Trained context", trained || undefined],
      ["File size", format_bytes(m.size)],
      ["Memory to load", need],
      ["Server's memory plan", loaded ? `${format_bytes(loaded.size)} loaded, context ${loaded.context_length}` : "not loaded"],
      ["This device", device ? `about ${navigator.deviceMemory} GB of memory (browser's estimate)` : undefined],
    ].filter(([, v]) => v !== undefined && v !== "");
    const dl = el("dl");
    for (const [k, v] of rows) dl.append(el("dt", { textContent: k }), el("dd", { textContent: String(v) }));
    const close = el("button", { type: "button", textContent: "Close" });
    close.addEventListener("click", () => { details.hidden = true; });
    details.replaceChildren(
      el("h3", { textContent: m.name }), dl,
      el("h4", { textContent: "Parameters" }), el("pre", { textContent: show.parameters || "(none)" }),
      el("h4", { textContent: "Template" }), el("pre", { textContent: show.template || "(none)", dataset: { testid: "model-template" } }),
      close);
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const model = name.value.trim();
    if (!model || pulling) return;
    pulling = new AbortController();
    progress.hidden = false;
    bar.removeAttribute("value");
    status.textContent = "starting…";
    let ok = false;
    try {
      const res = await call("/api/pull", { method: "POST", body: { model, stream: true }, signal: pulling.signal });
      await read_ndjson(res.body, (o) => {
        if (o.total > 0) {
          bar.max = o.total;
          bar.value = o.completed || 0;
          status.textContent = `${o.status}: ${format_bytes(o.completed || 0)} of ${format_bytes(o.total)}`;
        } else {
          status.textContent = o.status || "";
        }
        if (o.status === "success") ok = true;
      });
      status.textContent = ok ? `pulled ${model}` : "the pull ended without success";
    } catch (err) {
      status.textContent = "pull failed: " + err.message;
    }
    pulling = null;
    if (ok) name.value = "";
    await refresh();
  });

  return { refresh };
}
