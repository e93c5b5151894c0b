// The chat app as an app, in headless Chromium against a real `pocketlm serve`: the models view
// (list with size and family, pull from the local test registry with a progress bar, details,
// load/unload, delete), the API-key flow, and the installable shell (manifest, icons, service
// worker: the page reloads with the server gone and the network offline).
//   node tests/server/playwright_app.test.mjs POCKETLM_BIN MODEL_GGUF OUT_DIR [NODE_MODULES [CHROMIUM]]
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import {
  setup, teardown, start_server, start_registry, stop_child, open_page, pick_model, set_settings, send,
  wait_answer, answer_text, chat_titles, assert_alive, sel, model_name, model_file, screenshot_path,
} from "./playwright_lib.mjs";

const pulled = "pulled:260k";
const api_key = "test-key-7";

before(setup);
after(teardown);

const row = (page, name) => page.locator(`${sel("model-row")}[data-name="${name}"]`);

test("models: list, pull with progress, details, load/unload, delete", { timeout: 40_000 }, async () => {
  const registry = await start_registry("registry.ollama.ai/library/pulled/260k");
  const server = await start_server([], { POCKETLM_REGISTRY: registry.url });
  const { context, page, errors } = await open_page(server.url);
  await page.click(sel("menu"));
  await page.click(sel("open-models"));
  await row(page, model_name).waitFor();
  const facts = await row(page, model_name).locator(sel("model-facts")).textContent();
  assert.match(facts, /^\d+(\.\d)? (KB|MB) · llama/, facts);

  // Pull: every change of the bar's value and max is recorded (the mutation records' old values
  // plus the last one, as several progress lines may land between two observer callbacks).
  await page.evaluate(() => {
    window.__bar = { value: [], max: [] };
    const bar = document.getElementById("pull-bar");
    new MutationObserver((records) => {
      for (const r of records) window.__bar[r.attributeName]?.push(r.oldValue);
    }).observe(bar, { attributes: true, attributeOldValue: true, attributeFilter: ["value", "max"] });
  });
  await page.fill(sel("pull-name"), pulled);
  await page.click(sel("pull"));
  await row(page, pulled).waitFor();
  assert.equal(await page.textContent(sel("pull-status")), `pulled ${pulled}`);
  const bar = await page.evaluate(() => {
    const b = document.getElementById("pull-bar");
    return { value: [...window.__bar.value, b.getAttribute("value")].filter((v) => v !== null).map(Number),
             max: [...window.__bar.max, b.getAttribute("max")].filter((v) => v !== null).map(Number) };
  });
  const total = fs.statSync(model_file).size;
  console.log(`progress bar values ${JSON.stringify(bar.value)} of max ${JSON.stringify(bar.max)}`);
  assert.ok(bar.max.includes(total), `the bar's max was the blob's ${total} bytes: ${JSON.stringify(bar)}`);
  assert.ok(bar.value.includes(total), `the bar reached ${total}: ${JSON.stringify(bar)}`);
  assert.ok(await page.isVisible(sel("pull-bar")));

  // Details come from /api/show.
  await row(page, pulled).locator(sel("model-info")).click();
  await page.locator(`${sel("model-details")} dl`).waitFor();
  const details = await page.textContent(sel("model-details"));
  assert.match(details, /Familyllama/);
  assert.match(details, /Trained context\d+/);
  const shot = screenshot_path("web-models-390x844-light.png");
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`screenshot: ${shot}`);

  // Load and unload, as /api/ps sees it.
  const ps = async () => (await (await fetch(server.url + "api/ps")).json()).models.map((m) => m.name);
  await row(page, pulled).locator(sel("model-load")).click();
  await row(page, pulled).locator(sel("model-unload")).waitFor();
  assert.deepEqual(await ps(), [pulled]);
  assert.match(await row(page, pulled).locator(sel("model-facts")).textContent(), /loaded/);
  // Before loading the details gave the server's memory plan of a load at the chat's context
  // (/api/plan), and the load took what it planned (/api/ps).
  const plan = await (await fetch(server.url + "api/plan", {
    method: "POST", body: JSON.stringify({ model: pulled, options: { num_ctx: 2048 } }),
  })).json();
  const fmt = (n) => {
    const i = Math.min(4, Math.floor(Math.log(n) / Math.log(1024)));
    return `${(n / 1024 ** i).toFixed(i ? 1 : 0)} ${["B", "KB", "MB", "GB", "TB"][i]}`;
  };
  const esc = (t) => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  assert.equal(plan.context_length, 2048);
  assert.equal(typeof plan.fits, "boolean");
  assert.ok(details.includes(`Memory to load${fmt(plan.total)} for ${plan.parallel} × 2048 tokens (weights ${fmt(plan.weights)}, KV cache ${fmt(plan.kv_cache)}): ${plan.fits ? "fits" : "does not fit"} the ${fmt(plan.budget)} budget`), details);
  assert.match(details, /Loadedno/);
  const planned = (await (await fetch(server.url + "api/ps")).json()).models[0].size;
  assert.equal(planned, plan.total, "the load took the memory /api/plan planned");
  await row(page, pulled).locator(sel("model-info")).click();
  await page.locator(sel("model-details"), { hasText: "context 2048" }).waitFor();
  assert.match(await page.textContent(sel("model-details")), new RegExp(`Loaded${esc(fmt(planned))}, context 2048`));
  await row(page, pulled).locator(sel("model-unload")).click();
  await row(page, pulled).locator(sel("model-load")).waitFor();
  assert.deepEqual(await ps(), []);

  // The pulled model chats; then delete it (two clicks) and it is gone from the server's store.
  await page.click(sel("close-models"));
  await pick_model(page, pulled);
  await set_settings(page, { "max-tokens": 6 });
  await send(page, "Once");
  await wait_answer(page);
  assert.ok((await answer_text(page)).length > 0);
  await page.click(sel("menu"));
  await page.click(sel("open-models"));
  const del = row(page, pulled).locator(sel("model-delete"));
  await del.click();
  assert.equal(await del.textContent(), "Confirm delete");
  await del.click();
  await row(page, pulled).waitFor({ state: "detached" });
  const tags = (await (await fetch(server.url + "api/tags")).json()).models.map((m) => m.name);
  assert.deepEqual(tags, [model_name]);
  assert.deepEqual(errors, []);
  assert_alive(server);
  await context.close();
  await stop_child(server.proc);
});

test("API key: the page asks on 401, sends the key, asks again when it is wrong", { timeout: 30_000 }, async () => {
  const server = await start_server(["--api-key", api_key]);
  // The app's files are public like the page; the API is not.
  for (const p of ["", "app.js", "sw.js", "vendor/marked.js", "manifest.webmanifest", "icon-192.png"]) {
    assert.equal((await fetch(server.url + p)).status, 200, p);
  }
  assert.equal((await fetch(server.url + "api/tags")).status, 401);
  assert.equal((await fetch(server.url + "app.js", { method: "POST" })).status, 401, "only GET is public");

  const { context, page, errors } = await open_page(server.url);
  await page.waitForSelector(sel("api-key"));
  assert.match(await page.textContent(sel("notice")), /API key/);
  await page.fill(sel("api-key"), api_key);
  await page.press(sel("api-key"), "Enter");
  await pick_model(page);
  assert.equal(await page.isVisible(sel("key-bar")), false);
  await set_settings(page, { "max-tokens": 8 });
  await send(page, "Hello");
  await wait_answer(page);
  assert.ok((await answer_text(page)).length > 0, "an answer arrived with the key");
  assert.equal(await page.locator(`${sel("error")}:not([hidden])`).count(), 0);

  // A wrong key: the server's 401 message is shown under the answer and the key field is back.
  await page.evaluate(() => localStorage.setItem("pocketlm.api_key", "wrong"));
  await send(page, "Again");
  const error = page.locator(`${sel("error")}:not([hidden])`);
  await error.waitFor();
  console.log(`401 shown as: ${JSON.stringify(await error.textContent())}`);
  assert.match(await error.textContent(), /invalid API key/);
  assert.equal(await page.isVisible(sel("api-key")), true, "the key field is offered again");
  assert.match(await page.textContent(sel("notice")), /did not accept/);
  assert.deepEqual(errors, []);
  assert_alive(server);
  await context.close();
  await stop_child(server.proc);
});

test("installable: manifest and icons; offline reload shows the shell and the chats", { timeout: 40_000 }, async () => {
  const server = await start_server();
  const manifest = await (await fetch(server.url + "manifest.webmanifest")).json();
  assert.equal(manifest.display, "standalone");
  assert.equal(manifest.start_url, "/");
  for (const icon of manifest.icons) {
    const res = await fetch(server.url + icon.src.slice(1));
    assert.equal(res.status, 200, icon.src);
    assert.equal(res.headers.get("content-type"), icon.type);
  }
  const png = Buffer.from(await (await fetch(server.url + "icon-512.png")).arrayBuffer());
  assert.equal(png.readUInt32BE(16), 512, "icon-512.png is 512 px wide");

  const { context, page, errors } = await open_page(server.url, { width: 1280, height: 800 });
  assert.equal(await page.evaluate(() => document.querySelector("link[rel=manifest]").href), server.url + "manifest.webmanifest");
  await pick_model(page);
  await set_settings(page, { "max-tokens": 8 });
  await send(page, "Once upon a time");
  await wait_answer(page);
  const answer = await answer_text(page);
  // Wait for the service worker to control the page (it claims its clients when active).
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 15_000 });

  // The server gone and the network off: the reload is served by the service worker.
  await stop_child(server.proc);
  await context.setOffline(true);
  assert.equal(await fetch(server.url).then(() => "up", () => "down"), "down", "the server is really gone");
  await page.reload();
  await page.waitForSelector(sel("new-chat"));
  assert.deepEqual(await chat_titles(page), ["Once upon a time"], "the chats come from IndexedDB");
  assert.equal(await answer_text(page), answer);
  assert.match(await page.textContent(sel("notice")), /Offline|failed/i);
  // The vendored libraries came from the cache too: Markdown still renders.
  assert.equal(await page.evaluate(() => typeof window.marked?.parse + typeof window.DOMPurify?.sanitize + typeof window.hljs?.highlight),
               "functionfunctionfunction");
  assert.deepEqual(errors, []);
  await context.close();
});
