// The server's HTTP API as the page uses it: the API key (kept in localStorage and sent as a bearer
// token), error texts, and NDJSON streams (Ollama's /api/chat and /api/pull).

const key_item = "pocketlm.api_key";

export function api_key() {
  return localStorage.getItem(key_item) || "";
}

export function set_api_key(key) {
  if (key) localStorage.setItem(key_item, key);
  else localStorage.removeItem(key_item);
}

// Raised for a non-2xx answer; `status` is the HTTP status.
export class http_error extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// The server's error text from {"error": "..."} (Ollama) or {"error": {"message"}} (OpenAI);
// falls back to the status line.
export async function error_text(res) {
  const body = await res.text();
  try {
    const err = JSON.parse(body).error;
    const message = typeof err === "string" ? err : err && err.message;
    if (message) return message;
  } catch { /* not JSON: the raw body below */ }
  return `HTTP ${res.status} ${res.statusText}${body ? ": " + body.slice(0, 300) : ""}`;
}

// fetch() with the key and a JSON body; a non-2xx answer throws http_error, and a 401 also tells
// the page (event "pocketlm:need-key") so that it asks for the key.
export async function call(path, { method = "GET", body, signal } = {}) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const key = api_key();
  if (key) headers.Authorization = "Bearer " + key;
  const res = await fetch(path, {
    method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) {
    const message = await error_text(res);
    if (res.status === 401) {
      window.dispatchEvent(new CustomEvent("pocketlm:need-key", { detail: { had_key: Boolean(key), message } }));
    }
    throw new http_error(res.status, message);
  }
  return res;
}

export async function call_json(path, options) {
  return (await call(path, options)).json();
}

// Calls on_object(o) for each line of an NDJSON body; an {"error"} line throws.
export async function read_ndjson(body, on_object) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let pending = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    pending += value;
    const lines = pending.split("\n");
    pending = lines.pop();
    for (const line of lines) {
      if (!line.trim()) continue;
      const o = JSON.parse(line);
      if (o.error) throw new Error(typeof o.error === "string" ? o.error : o.error.message);
      on_object(o);
    }
  }
  if (pending.trim()) on_object(JSON.parse(pending));
}

export function format_bytes(n) {
  if (!(n > 0)) return "0 B";
  const units = ["B", "KB", "MB", "GB", "TB"];
  const i = Math.min(units.length - 1, Math.floor(Math.log(n) / Math.log(1024)));
  return `${(n / 1024 ** i).toFixed(i ? 1 : 0)} ${units[i]}`;
}
