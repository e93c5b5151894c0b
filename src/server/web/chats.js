// Conversations kept in the browser (IndexedDB "pocketlm", object store "chats").
// A chat: {id, title, created, updated, model, system, settings, messages}, where a message is
// {role: "user"|"assistant", content, reasoning?, thinking_ms?, stats?, error?, seed?}.

const db_name = "pocketlm";
const store_name = "chats";
let db_promise = null;

function open_db() {
  db_promise ??= new Promise((resolve, reject) => {
    const req = indexedDB.open(db_name, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(store_name, { keyPath: "id" });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  return db_promise;
}

async function run(mode, work) {
  const db = await open_db();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(store_name, mode);
    const req = work(tx.objectStore(store_name));
    tx.oncomplete = () => resolve(req && req.result);
    tx.onerror = () => reject(tx.error);
  });
}

// All chats, the most recently changed first.
export async function all_chats() {
  const chats = (await run("readonly", (s) => s.getAll())) || [];
  return chats.sort((a, b) => b.updated - a.updated);
}

export function save_chat(chat) {
  return run("readwrite", (s) => s.put(structuredClone(chat)));
}

export function delete_chat(id) {
  return run("readwrite", (s) => s.delete(id));
}

export function new_id() {
  return Date.now().toString(36) + Math.random().toString(36).slice(2, 10);
}

export function new_chat(defaults) {
  const now = Date.now();
  return {
    id: new_id(), title: "New chat", created: now, updated: now,
    model: defaults.model || "", system: defaults.system || "",
    settings: { ...(defaults.settings || {}) }, messages: [],
  };
}

// A chat's title from its first user message.
export function title_from(text) {
  const line = text.trim().split("\n")[0];
  return line.length > 48 ? line.slice(0, 47) + "…" : line || "New chat";
}

export function matches(chat, query) {
  const q = query.trim().toLowerCase();
  if (!q) return true;
  return chat.title.toLowerCase().includes(q) || chat.messages.some((m) => m.content.toLowerCase().includes(q));
}

// Export: {"pocketlm_chats": 1, "chats": [...]}. Import accepts that or a bare array; each chat
// gets a fresh id so an import never overwrites.
export function export_text(chats) {
  return JSON.stringify({ pocketlm_chats: 1, exported: new Date().toISOString(), chats }, null, 2);
}

export function parse_import(text) {
  const data = JSON.parse(text);
  const list = Array.isArray(data) ? data : data && data.chats;
  if (!Array.isArray(list)) throw new Error("not a pocketlm chats file: no \"chats\" array");
  return list.map((c) => {
    if (!c || !Array.isArray(c.messages)) throw new Error("a chat without \"messages\"");
    const now = Date.now();
    return {
      id: new_id(), title: String(c.title || "Imported chat"), created: c.created || now, updated: c.updated || now,
      model: String(c.model || ""), system: String(c.system || ""), settings: { ...(c.settings || {}) },
      messages: c.messages.filter((m) => m && (m.role === "user" || m.role === "assistant"))
        .map((m) => ({ ...m, content: String(m.content || "") })),
    };
  });
}
