// End-to-end test of the chat app at / (src/server/web) in headless Chromium, driven by
// playwright-core, against a real `pocketlm serve` on a loopback port (behind a recording proxy,
// tests/server/playwright_lib.mjs, so that what the page sent is checked where the server got it):
//   node tests/server/playwright.test.mjs POCKETLM_BIN MODEL_GGUF OUT_DIR [NODE_MODULES [CHROMIUM]]
// This file: conversations (two kept across reloads, rename, search, delete, export/import),
// settings sent to the server, edit and regenerate, stop. playwright_render.test.mjs covers
// Markdown and sanitising (and the screenshots), playwright_app.test.mjs models, the API key and
// offline start. stories260K answers faster than a browser can watch, so the stop test throttles
// the page's network (Chrome DevTools protocol) to make the stream trickle.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import {
  setup, teardown, start_server, start_proxy, open_page, pick_model, set_settings, send, wait_answer,
  answer_text, chat_titles, final_line, assert_alive, sel, model_name,
} from "./playwright_lib.mjs";

let server;
let proxy;
before(async () => {
  await setup();
  server = await start_server();
  proxy = await start_proxy(server);
});
after(async () => {
  await proxy?.close();
  await teardown();
});

const chat_requests = () => proxy.exchanges.filter((e) => e.path === "/api/chat");

test("conversations: two chats kept across reloads; rename, search, delete, export and import", { timeout: 40_000 }, async () => {
  const { context, page, errors } = await open_page(proxy.url);
  await pick_model(page);
  await set_settings(page, { "max-tokens": 8 });
  await send(page, "Once upon a time");
  await wait_answer(page);
  const first_answer = await answer_text(page);
  assert.ok(first_answer.length > 0);

  await page.keyboard.press("Control+Shift+O");   // the new-chat shortcut
  await page.waitForSelector(`${sel("messages")} .empty`);
  await page.fill(sel("input"), "The cat sat");
  await page.keyboard.press("Control+Enter");   // sends too
  await wait_answer(page);
  assert.deepEqual(await chat_titles(page), ["The cat sat", "Once upon a time"]);

  await page.reload();
  await pick_model(page);
  assert.deepEqual(await chat_titles(page), ["The cat sat", "Once upon a time"], "both chats survive a reload");
  assert.equal(await page.locator(sel("user-text")).textContent(), "The cat sat", "the open chat is restored");
  await page.click(sel("menu"));
  await page.locator(sel("chat-open"), { hasText: "Once upon a time" }).click();
  assert.equal(await page.locator(sel("user-text")).textContent(), "Once upon a time");
  assert.equal(await answer_text(page), first_answer, "the answer is kept with its chat");

  // Rename, then search by title and by message text.
  await page.click(sel("menu"));
  await page.locator(sel("chat-item"), { hasText: "The cat sat" }).locator(sel("chat-rename")).click();
  await page.fill(sel("chat-rename-input"), "Cats");
  await page.press(sel("chat-rename-input"), "Enter");
  await page.locator(sel("chat-open"), { hasText: "Cats" }).waitFor();
  await page.fill(sel("search"), "upon");
  assert.deepEqual(await chat_titles(page), ["Once upon a time"]);
  await page.fill(sel("search"), "cat sat");   // matches the renamed chat's message
  assert.deepEqual(await chat_titles(page), ["Cats"]);
  await page.fill(sel("search"), "");

  // Export both, delete one (two clicks), import the export: the deleted chat comes back.
  const download = page.waitForEvent("download");
  await page.click(sel("export"));
  const exported = JSON.parse(fs.readFileSync(await (await download).path(), "utf8"));
  assert.equal(exported.chats.length, 2);
  assert.deepEqual(exported.chats.map((c) => c.title).sort(), ["Cats", "Once upon a time"]);
  const cats = exported.chats.find((c) => c.title === "Cats");
  assert.equal(cats.model, model_name);
  assert.deepEqual(cats.messages.map((m) => m.role), ["user", "assistant"]);

  const del = page.locator(sel("chat-item"), { hasText: "Cats" }).locator(sel("chat-delete"));
  await del.click();
  await del.click();
  await page.waitForFunction(() => document.querySelectorAll("[data-testid=chat-item]").length === 1);
  await page.reload();
  assert.deepEqual(await chat_titles(page), ["Once upon a time"], "the deleted chat stays deleted");
  await page.setInputFiles(sel("import-file"), { name: "chats.json", mimeType: "application/json",
                                                 buffer: Buffer.from(JSON.stringify({ chats: [cats] })) });
  await page.locator(sel("chat-open"), { hasText: "Cats" }).waitFor({ state: "attached" });
  assert.equal((await chat_titles(page)).length, 2);
  assert.deepEqual(errors, [], "no script errors on the page");
  await context.close();
});

test("settings: each one is sent and the server applies it", { timeout: 30_000 }, async () => {
  const { context, page, errors } = await open_page(proxy.url);
  await pick_model(page);
  await page.click(sel("new-chat-bar"));
  await set_settings(page, {
    temperature: 0.3, "top-k": 5, "top-p": 0.8, "min-p": 0.05, "repeat-penalty": 1.2, "num-ctx": 256,
    "max-tokens": 6, think: "false",
  });
  await page.click(sel("open-settings"));
  await page.fill(sel("system"), "You tell short stories.");
  await page.press(sel("system"), "Tab");
  await page.click(sel("open-settings"));
  const before = chat_requests().length;
  await send(page, "Tell me a story");
  await wait_answer(page);
  const sent = chat_requests().slice(before);
  assert.equal(sent.length, 1);
  const { body } = sent[0];
  assert.equal(body.model, model_name);
  assert.equal(body.stream, true);
  assert.equal(body.think, false);
  assert.deepEqual(body.messages, [{ role: "system", content: "You tell short stories." },
                                   { role: "user", content: "Tell me a story" }]);
  const { seed, ...options } = body.options;
  assert.ok(Number.isInteger(seed));
  assert.deepEqual(options, { temperature: 0.3, top_k: 5, top_p: 0.8, min_p: 0.05, repeat_penalty: 1.2,
                              num_ctx: 256, num_predict: 6 });
  // The server's own account: it stopped at max tokens (6), and the page shows its counts.
  assert.equal(sent[0].status, 200);
  const final = final_line(sent[0]);
  assert.equal(final.done, true);
  assert.ok(final.eval_count <= 6, JSON.stringify(final));
  if (final.done_reason === "length") assert.equal(final.eval_count, 6);
  const stats = await page.locator(sel("stats")).last().textContent();
  console.log(`server final line: ${JSON.stringify(final)}; page shows: ${stats}`);
  assert.match(stats, new RegExp(`^prompt ${final.prompt_eval_count} tokens at [\\d.]+ tokens/s · answer ${final.eval_count} tokens`));

  // The settings belong to the chat: a reload shows them; they are the defaults of a new chat.
  await page.reload();
  await page.click(sel("open-settings"));
  assert.equal(await page.inputValue(sel("temperature")), "0.3");
  assert.equal(await page.inputValue(sel("num-ctx")), "256");
  assert.equal(await page.inputValue(sel("system")), "You tell short stories.");
  // A new chat starts from them; changing it leaves the first chat's settings alone.
  await page.click(sel("new-chat-bar"));
  assert.equal(await page.inputValue(sel("temperature")), "0.3");
  await page.fill(sel("temperature"), "0.9");
  await page.press(sel("temperature"), "Tab");
  await send(page, "Another story");
  await wait_answer(page);
  assert.equal(chat_requests().at(-1).body.options.temperature, 0.9);
  await page.click(sel("menu"));
  await page.locator(sel("chat-open"), { hasText: "Tell me a story" }).click();
  assert.equal(await page.inputValue(sel("temperature")), "0.3", "the first chat kept its own temperature");
  assert.deepEqual(errors, []);
  assert_alive(server);
  await context.close();
});

test("edit a user turn and resend; regenerate with a new seed", { timeout: 30_000 }, async () => {
  const { context, page, errors } = await open_page(proxy.url);
  await pick_model(page);
  await page.click(sel("new-chat-bar"));
  await set_settings(page, { "max-tokens": 8, temperature: 1 });
  await send(page, "Once upon a time");
  await wait_answer(page);
  const first = chat_requests().at(-1);

  await page.click(sel("regenerate"));
  await wait_answer(page);
  const again = chat_requests().at(-1);
  assert.notEqual(again, first);
  assert.deepEqual(again.body.messages, first.body.messages, "the same conversation is sent again");
  assert.notEqual(again.body.options.seed, first.body.options.seed, "with a new seed");
  assert.equal(await page.locator(sel("assistant-message")).count(), 1, "the answer was replaced");
  const final = final_line(again);
  assert.ok(final.eval_count > 0);

  await page.click(sel("edit"));
  await page.fill(sel("edit-input"), "The dog ran");
  await page.press(sel("edit-input"), "Control+Enter");   // as the edit box's Send button
  await wait_answer(page);
  const edited = chat_requests().at(-1);
  assert.deepEqual(edited.body.messages.map((m) => m.content), ["The dog ran"]);
  assert.deepEqual(await page.locator(sel("user-text")).allTextContents(), ["The dog ran"]);
  assert.equal(await page.locator(sel("assistant-message")).count(), 1);
  assert.ok((await answer_text(page)).length > 0);
  assert.deepEqual(errors, []);
  await context.close();
});

test("stop: Esc (or the button) ends the stream; the text so far is kept", { timeout: 30_000 }, async () => {
  const { context, page, errors } = await open_page(proxy.url);
  await pick_model(page);
  await page.click(sel("new-chat-bar"));
  await set_settings(page, { "max-tokens": 400 });
  // ~2 KB/s: a few NDJSON lines a second, so the answer visibly grows and is still going at "stop".
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.emulateNetworkConditions",
                 { offline: false, latency: 0, downloadThroughput: 2048, uploadThroughput: -1 });
  await send(page, "Once upon a time");
  await page.waitForSelector(sel("stop"));
  assert.equal(await page.isVisible(sel("send")), false, "send is hidden while the answer streams");
  const grown = async (n) => (await page.waitForFunction((min) => {
    const all = document.querySelectorAll("[data-testid=assistant-text]");
    const len = all.length ? all[all.length - 1].textContent.length : 0;
    return len > min && len;
  }, n)).jsonValue();
  const first = await grown(0);
  const second = await grown(first);
  console.log(`streamed answer grew ${first} -> ${second} characters`);
  await page.keyboard.press("Escape");
  await page.waitForSelector(sel("send"));
  const stopped = await answer_text(page);
  assert.ok(stopped.length >= second, "the text that arrived before stop is kept");
  assert.match(await page.locator(sel("stats")).last().textContent(), /stopped/);
  await page.waitForTimeout(1500);
  assert.equal(await answer_text(page), stopped, "the answer stopped growing");
  await cdp.send("Network.emulateNetworkConditions",
                 { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  await page.reload();
  assert.equal(await answer_text(page), stopped, "the stopped answer is saved");

  // The Stop button does the same.
  await cdp.send("Network.emulateNetworkConditions",
                 { offline: false, latency: 0, downloadThroughput: 2048, uploadThroughput: -1 });
  await pick_model(page);
  await send(page, "The little dog");
  const before_stop = await grown(0);
  await page.click(sel("stop"));
  await page.waitForSelector(sel("send"));
  const by_button = await answer_text(page);
  assert.ok(by_button.length >= before_stop);
  assert.match(await page.locator(sel("stats")).last().textContent(), /stopped/);
  await page.waitForTimeout(1000);
  assert.equal(await answer_text(page), by_button, "stopped by the button, it does not grow");
  assert.deepEqual(errors, []);
  assert_alive(server);
  await context.close();
});
