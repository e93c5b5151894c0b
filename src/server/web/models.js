// The models view: the store's models with size and family, pull by name (the /api/pull NDJSON
// progress stream shown in a progress bar), details (/api/show), load/unload (/api/generate with
// no prompt; keep_alive 0 unloads), delete (/api/delete) and, before loading, the server's memory
// plan of a load at the chat's context (/api/plan, pocketlm's extension).
import { call, call_json, read_ndjson, format_bytes } from "./api.js";

const $ = (id) => document.getElementById(id);

function el(tag, { dataset, ...props } = {}, ...children) {
  const e = Object.assign(document.createElement(tag), props);
  if (dataset) Object.assign(e.dataset, dataset);
  e.append(...children);
  return e;
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
    const n_ctx = chat_context() || 0;
    let need;
    try {
      const p = await call_json("/api/plan", { method: "POST", body: { model: m.name, options: n_ctx ? { num_ctx: n_ctx } : {} } });
      need = `${format_bytes(p.total)} for ${p.parallel} × ${p.context_length} tokens (weights ${format_bytes(p.weights)}, KV cache ${format_bytes(p.kv_cache)})`;
      if (p.fits !== null) need += `: ${p.fits ? "fits" : "does not fit"} the ${format_bytes(p.budget)} budget (${p.budget_source})`;
    } catch (e) {
      need = `no plan: ${e.message}`;
    }
    const rows = [
      ["Family", d.family], ["Parameters", d.parameter_size], ["Quantization", d.quantization_level],
      ["Format", d.format], ["Trained context", trained || undefined],
      ["File size", format_bytes(m.size)],
      ["Memory to load", need],
      ["Loaded", loaded ? `${format_bytes(loaded.size)}, context ${loaded.context_length}` : "no"],
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
