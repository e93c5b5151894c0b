// Shared plumbing for the web app tests (playwright*.test.mjs): a temp store with stories260K,
// `pocketlm serve` on a free loopback port, a recording proxy in front of it (what the page sent
// to the server and what the server answered, byte for byte), the local test registry for pulls,
// and headless Chromium (playwright-core). Each test file is run as
//   node FILE POCKETLM_BIN MODEL_GGUF OUT_DIR [NODE_MODULES [CHROMIUM]]
// (see tests/CMakeLists.txt); screenshots go to OUT_DIR ($OUT_DIR when set).
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import net from "node:net";
import http from "node:http";
import path from "node:path";
import { spawn, execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2).filter((a) => !a.startsWith("--"));
export const [bin, model_file, out_arg, node_modules = path.resolve(here, "../../node_modules"),
              chromium_path = "/usr/bin/chromium"] = args;
if (!bin || !model_file || !out_arg) {
  throw new Error("usage: node FILE POCKETLM_BIN MODEL_GGUF OUT_DIR [NODE_MODULES [CHROMIUM]]");
}
export const out_dir = process.env.OUT_DIR || out_arg;
const { chromium } = createRequire(path.join(node_modules, "noop.js"))("playwright-core");

export const model_name = "stories:260k";
export const step_ms = 15_000;   // any single wait
export const sel = (id) => `[data-testid=${id}]`;

const root = fs.mkdtempSync(path.join(os.tmpdir(), "pocketlm-web-"));
const children = [];
let browser = null;

export function store_env() {
  return { HOME: path.join(root, "home"), POCKETLM_MODELS: path.join(root, "models"),
           OLLAMA_MODELS: path.join(root, "no-ollama") };
}

export async function setup() {
  execFileSync(bin, ["import", model_file, model_name], { env: { ...process.env, ...store_env() }, stdio: "pipe" });
  browser = await chromium.launch({ executablePath: chromium_path, headless: true, args: ["--no-sandbox"] });
}

export async function teardown() {
  await browser?.close();
  await Promise.all(children.map(stop_child));
  fs.rmSync(root, { recursive: true, force: true });
}

function free_port() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export async function stop_child(proc) {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((resolve) => proc.once("exit", resolve));
  proc.kill("SIGTERM");
  const timer = setTimeout(() => proc.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}

// Starts `pocketlm serve` on the temp store; resolves {url, port, proc, log} once it listens.
export async function start_server(extra_args = [], extra_env = {}) {
  const port = await free_port();
  const proc = spawn(bin, ["serve", "--host", "127.0.0.1", "--port", String(port), ...extra_args], {
    env: { ...process.env, ...store_env(), ...extra_env }, stdio: ["ignore", "ignore", "pipe"],
  });
  children.push(proc);
  const server = { url: `http://127.0.0.1:${port}/`, port, proc, log: "" };
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "listening on" in 15 s:\n${server.log}`)), 15_000);
    proc.stderr.on("data", (d) => {
      server.log += d;
      if (server.log.includes("listening on")) {
        clearTimeout(timer);
        resolve();
      }
    });
    proc.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`pocketlm serve exited (${code ?? signal}) before listening:\n${server.log}`));
    });
  });
  return server;
}

export function assert_alive(server) {
  assert.equal(server.proc.exitCode, null, `server exited; stderr:\n${server.log}`);
  assert.equal(server.proc.signalCode, null, `server killed; stderr:\n${server.log}`);
}

// A transparent proxy on another loopback port in front of `server`: the page is opened through
// it, and every /api/ request that reached the server is kept with the server's whole answer:
// exchanges[i] = {method, path, body (parsed JSON or null), status, response (text)}.
export async function start_proxy(server) {
  const exchanges = [];
  const proxy = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks);
      const record = { method: req.method, path: req.url, body: null, status: 0, response: "" };
      try { record.body = raw.length ? JSON.parse(raw) : null; } catch { /* not JSON */ }
      const upstream = http.request({ host: "127.0.0.1", port: server.port, method: req.method, path: req.url,
                                      headers: req.headers }, (up) => {
        record.status = up.statusCode;
        res.writeHead(up.statusCode, up.headers);
        up.on("data", (c) => {
          if (req.url.startsWith("/api/")) record.response += c;
          res.write(c);
        });
        up.on("end", () => res.end());
        up.on("error", () => res.destroy());
      });
      upstream.on("error", () => res.destroy());
      res.on("close", () => upstream.destroy());   // the page stopped: the server sees it leave
      upstream.end(raw);
      if (req.url.startsWith("/api/")) exchanges.push(record);
    });
  });
  await new Promise((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  const { port } = proxy.address();
  return { url: `http://127.0.0.1:${port}/`, exchanges, close: () => new Promise((r) => { proxy.closeAllConnections(); proxy.close(r); }) };
}

// The last NDJSON object of an exchange's response (Ollama's final line: counts, durations).
export function final_line(exchange) {
  const lines = exchange.response.trim().split("\n").filter(Boolean);
  return JSON.parse(lines.at(-1));
}

// The local registry (tests/e2e/store/registry.mjs) serving stories260K as `name`.
export async function start_registry(name) {
  const store_dir = path.join(here, "..", "e2e", "store");
  const reg_root = path.join(root, "registry");
  execFileSync("node", [path.join(store_dir, "make_ollama_store.mjs"), reg_root, name, model_file, "pulled"], { stdio: "pipe" });
  const proc = spawn("node", [path.join(store_dir, "registry.mjs"), reg_root], { stdio: ["ignore", "pipe", "inherit"] });
  children.push(proc);
  const port = await new Promise((resolve, reject) => {
    let out = "";
    proc.stdout.on("data", (d) => {
      out += d;
      const m = /PORT (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    proc.once("exit", () => reject(new Error(`registry exited: ${out}`)));
  });
  return { url: `http://127.0.0.1:${port}`, proc };
}

// A page on `url` (390x844 unless told), collecting script errors.
export async function open_page(url, { width = 390, height = 844, colorScheme = "light" } = {}) {
  const context = await browser.newContext({ viewport: { width, height }, colorScheme });
  const page = await context.newPage();
  page.setDefaultTimeout(step_ms);
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(url);
  return { context, page, errors };
}

export async function pick_model(page, name = model_name) {
  await page.waitForSelector(`${sel("model-select")} option[value="${name}"]`, { state: "attached" });
  await page.selectOption(sel("model-select"), name);
}

// Opens the settings panel (if closed) and sets fields: {"max-tokens": 8, ...}; each change is
// committed (change event) as a user's Tab would.
export async function set_settings(page, fields) {
  if (!(await page.isVisible(sel("settings-panel")))) await page.click(sel("open-settings"));
  for (const [id, value] of Object.entries(fields)) {
    if (id === "think") await page.selectOption(sel(id), String(value));
    else {
      await page.fill(sel(id), String(value));
      await page.press(sel(id), "Tab");
    }
  }
  await page.click(sel("open-settings"));   // close it again
}

export async function send(page, text) {
  await page.fill(sel("input"), text);
  await page.press(sel("input"), "Enter");
}

// Waits until the answer being streamed has ended (send is back, the stats line is shown).
export async function wait_answer(page) {
  await page.waitForSelector(sel("send"));
  await page.locator(`${sel("assistant-message")}:last-child ${sel("stats")}:not([hidden])`).waitFor();
}

export const answer_text = (page) => page.locator(sel("assistant-text")).last().textContent();

// The chats' titles in the list, in order.
export const chat_titles = (page) => page.locator(`${sel("chat-item")} ${sel("chat-open")}`).allTextContents();

export function screenshot_path(name) {
  fs.mkdirSync(out_dir, { recursive: true });
  return path.join(out_dir, name);
}

// A fake /api/chat answer (NDJSON as the server sends it) for rendering tests: the page's request
// is answered by the browser itself, so the Markdown under test is exactly this text.
export function fake_chat_stream(content, thinking = "") {
  const lines = [];
  const at = new Date().toISOString();
  if (thinking) lines.push({ model: model_name, created_at: at, message: { role: "assistant", content: "", thinking }, done: false });
  for (const piece of content.match(/[\s\S]{1,40}/g)) {
    lines.push({ model: model_name, created_at: at, message: { role: "assistant", content: piece }, done: false });
  }
  lines.push({ model: model_name, created_at: at, message: { role: "assistant", content: "" }, done: true,
               done_reason: "stop", prompt_eval_count: 12, prompt_eval_duration: 100_000_000,
               eval_count: 30, eval_duration: 500_000_000 });
  return lines.map((l) => JSON.stringify(l)).join("\n") + "\n";
}
