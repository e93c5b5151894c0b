// End-to-end test of the chat page at / (src/server/web/index.html) in headless Chromium, driven by
// playwright-core, against a real `pocketlm serve` on a loopback port:
//   node tests/server/playwright.test.mjs POCKETLM_BIN MODEL_GGUF OUT_DIR [NODE_MODULES [CHROMIUM]]
// The model is imported into a temp store; the screenshot goes to OUT_DIR. stories260K answers faster than a browser can watch, so
// the stop test throttles the page's network (Chrome DevTools protocol) to make the stream trickle;
// the page still reads it chunk by chunk exactly as it would over a slow phone link.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import net from "node:net";
import path from "node:path";
import { spawn, execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const [bin, model_file, out_arg, node_modules = path.resolve(here, "../../node_modules"),
       chromium_path = "/usr/bin/chromium"] = process.argv.slice(2);
if (!bin || !model_file || !out_arg) {
  throw new Error("usage: playwright.test.mjs POCKETLM_BIN MODEL_GGUF OUT_DIR [NODE_MODULES [CHROMIUM]]");
}
const out_dir = process.env.OUT_DIR || out_arg;   // $OUT_DIR, when set, collects the screenshot
const { chromium } = createRequire(path.join(node_modules, "noop.js"))("playwright-core");

const model_name = "stories:260k";
const api_key = "test-key-7";
const step_ms = 15_000;   // any single wait; the tests' own limits keep the file under ctest's 60 s
const sel = (id) => `[data-testid=${id}]`;

let root;
let browser;
const servers = [];

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

// Starts `pocketlm serve` on the temp store; resolves {url, proc, stderr()} once it is listening.
async function start_server(extra_args = []) {
  const port = await free_port();
  const proc = spawn(bin, ["serve", "--host", "127.0.0.1", "--port", String(port), ...extra_args], {
    env: { ...process.env, ...store_env() }, stdio: ["ignore", "ignore", "pipe"],
  });
  const server = { url: `http://127.0.0.1:${port}/`, proc, log: "" };
  servers.push(server);
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

function store_env() {
  return { HOME: path.join(root, "home"), POCKETLM_MODELS: path.join(root, "models"),
           OLLAMA_MODELS: path.join(root, "no-ollama") };
}

function assert_alive(server) {
  assert.equal(server.proc.exitCode, null, `server exited; stderr:\n${server.log}`);
  assert.equal(server.proc.signalCode, null, `server killed; stderr:\n${server.log}`);
}

before(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "pocketlm-web-"));
  execFileSync(bin, ["import", model_file, model_name], { env: { ...process.env, ...store_env() }, stdio: "pipe" });
  return chromium.launch({ executablePath: chromium_path, headless: true, args: ["--no-sandbox"] })
    .then((b) => { browser = b; });
});

async function stop_server(server) {
  const { proc } = server;
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((resolve) => proc.once("exit", resolve));
  proc.kill("SIGTERM");
  const timer = setTimeout(() => proc.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}

after(async () => {
  await browser?.close();
  await Promise.all(servers.map(stop_server));
  fs.rmSync(root, { recursive: true, force: true });
});

// A phone-sized page on `url`, with the model list loaded and stories picked.
async function open_page(url) {
  const context = await browser.newContext({ viewport: { width: 390, height: 760 } });
  const page = await context.newPage();
  page.setDefaultTimeout(step_ms);
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(url);
  return { context, page, errors };
}

async function pick_model(page) {
  await page.waitForSelector(`${sel("model-select")} option[value="${model_name}"]`, { state: "attached" });
  await page.selectOption(sel("model-select"), model_name);
}

async function set_max_tokens(page, n) {
  if (!(await page.isVisible(sel("max-tokens")))) await page.click(`${sel("settings")} summary`);
  await page.fill(sel("max-tokens"), String(n));
  await page.press(sel("max-tokens"), "Tab");   // commits the change (saved in localStorage)
}

const answer_text = (page) => page.locator(sel("assistant-text")).last().textContent();

// Waits until the last answer's text is longer than `n` characters; returns the new length.
async function wait_longer_than(page, n) {
  const handle = await page.waitForFunction((min) => {
    const all = document.querySelectorAll("[data-testid=assistant-text]");
    const len = all.length ? all[all.length - 1].textContent.length : 0;
    return len > min && len;
  }, n);
  return handle.jsonValue();
}

test("chat page: stream, stop, complete answer, reload restores, new chat clears", { timeout: 30_000 }, async () => {
  const server = await start_server();
  const { context, page, errors } = await open_page(server.url);
  await pick_model(page);
  await set_max_tokens(page, 400);

  // ~2 KB/s: a few SSE events a second, so the answer visibly grows and is still going at "stop".
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.emulateNetworkConditions",
                 { offline: false, latency: 0, downloadThroughput: 2048, uploadThroughput: -1 });
  await page.fill(sel("input"), "Once upon a time");
  await page.press(sel("input"), "Enter");
  assert.equal(await page.locator(sel("user-message")).last().textContent(), "Once upon a time");
  await page.waitForSelector(sel("stop"));
  assert.equal(await page.isVisible(sel("send")), false, "send is hidden while the answer streams");
  const first = await wait_longer_than(page, 0);
  const grown = await wait_longer_than(page, first);
  console.log(`streamed answer grew ${first} -> ${grown} characters`);

  await page.click(sel("stop"));
  await page.waitForSelector(sel("send"));
  assert.equal(await page.isVisible(sel("stop")), false, "stop is hidden once the answer ended");
  const stopped = await answer_text(page);
  assert.ok(stopped.length >= grown, "the text that arrived before stop is kept");
  assert.match(await page.locator(sel("stats")).last().textContent(), /stopped/);
  // No new content may arrive once stopped, although the network would still deliver the rest.
  await page.waitForTimeout(1500);
  assert.equal(await answer_text(page), stopped, "the answer stopped growing");
  await cdp.send("Network.emulateNetworkConditions",
                 { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });

  // A short answer runs to its end: usage arrives and the tokens/s line is shown.
  await set_max_tokens(page, 24);
  await page.fill(sel("input"), "Tell me about the cat");
  await page.click(sel("send"));
  await page.locator(`${sel("stats")}:not([hidden])`).nth(1).waitFor();
  const stats = await page.locator(sel("stats")).last().textContent();
  console.log(`second answer: ${JSON.stringify(await answer_text(page))} (${stats})`);
  assert.match(stats, /^\d+ tokens · \d+(\.\d)? tokens\/s$/);
  assert.ok((await answer_text(page)).length > 0);
  assert_alive(server);

  // The conversation and the model choice survive a reload.
  const before_reload = await page.locator(`${sel("messages")} .msg`).allTextContents();
  await page.reload();
  await pick_model(page);
  assert.deepEqual(await page.locator(`${sel("messages")} .msg`).allTextContents(), before_reload);
  assert.equal(await page.inputValue(sel("model-select")), model_name);
  assert.equal(await page.locator(sel("assistant-message")).count(), 2);

  const shot = path.join(out_dir, "playwright-chat.png");
  fs.mkdirSync(out_dir, { recursive: true });
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`screenshot: ${shot}`);

  await page.click(sel("new-chat"));
  assert.equal(await page.locator(`${sel("messages")} .msg`).count(), 0);
  await page.reload();
  await page.waitForSelector(`${sel("messages")} .empty`);
  assert.equal(await page.locator(`${sel("messages")} .msg`).count(), 0, "new chat clears the saved one");
  assert.deepEqual(errors, [], "no script errors on the page");
  await context.close();
});

test("chat page: a server with --api-key gets the key from the page", { timeout: 15_000 }, async () => {
  const server = await start_server(["--api-key", api_key]);
  const { context, page, errors } = await open_page(server.url);
  await page.waitForSelector(sel("api-key"));
  assert.match(await page.textContent(sel("notice")), /API key/);
  await page.fill(sel("api-key"), api_key);
  await page.press(sel("api-key"), "Enter");
  await pick_model(page);
  await set_max_tokens(page, 8);
  await page.fill(sel("input"), "Hello");
  await page.press(sel("input"), "Enter");
  await page.waitForSelector(`${sel("stats")}:not([hidden])`);
  assert.ok((await answer_text(page)).length > 0, "an answer arrived with the key");
  assert.equal(await page.locator(`${sel("error")}:not([hidden])`).count(), 0);

  // A wrong key: the server's 401 message is shown inline under the answer.
  await page.evaluate(() => localStorage.setItem("pocketlm.api_key", "wrong"));
  await page.fill(sel("input"), "Again");
  await page.press(sel("input"), "Enter");
  const error = page.locator(`${sel("error")}:not([hidden])`);
  await error.waitFor();
  console.log(`401 shown as: ${JSON.stringify(await error.textContent())}`);
  assert.match(await error.textContent(), /key/i);
  assert.equal(await page.isVisible(sel("api-key")), true, "the key field is offered again");
  assert.deepEqual(errors, []);
  assert_alive(server);
  await context.close();
});
