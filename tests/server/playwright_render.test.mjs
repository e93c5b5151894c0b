// The chat app's rendering in headless Chromium against a real `pocketlm serve`: Markdown (heading,
// table, fenced code highlighted with a copy button), output sanitised (a <script>, an
// <img onerror> and a javascript: link in the model's text do nothing), reasoning folded under
// "Thinking" with its duration, the speed line; screenshots at 390x844 and 1280x800, light and
// dark, into OUT_DIR. The model's answer is fixed here: the page's /api/chat request is answered
// by the browser (page.route) with this NDJSON stream, so the Markdown under test is exact.
//   node tests/server/playwright_render.test.mjs POCKETLM_BIN MODEL_GGUF OUT_DIR [NODE_MODULES [CHROMIUM]]
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  setup, teardown, start_server, open_page, pick_model, send, wait_answer, fake_chat_stream,
  screenshot_path, sel,
} from "./playwright_lib.mjs";

const answer = [
  "## A heading",
  "",
  "Some **bold** text and `inline code`. A [bad link](javascript:window.__xss_link=1) and a [good one](https://example.com).",
  "",
  "| name | value |",
  "| ---- | ----- |",
  "| pi   | 3.14  |",
  "",
  "```python",
  "def greet(name):",
  "    return f\"hello {name}\"",
  "```",
  "",
  "<script>window.__xss_script = 1</script>",
  "<img src=\"x\" onerror=\"window.__xss_img = 1\">",
  "<b onmouseover=\"window.__xss_b = 1\">hover</b>",
].join("\n");

let server;
before(async () => {
  await setup();
  server = await start_server();
});
after(teardown);

async function fake_answer(page, text = answer, thinking = "Let me think about greetings.") {
  await page.route("**/api/chat", (route) => route.fulfill({
    status: 200, contentType: "application/x-ndjson", body: fake_chat_stream(text, thinking),
  }));
}

test("Markdown, highlighted code with copy, tables; model HTML is inert; thinking folded; speed", { timeout: 30_000 }, async () => {
  const { context, page, errors } = await open_page(server.url);
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.url.slice(0, -1) });
  const dialogs = [];
  page.on("dialog", (d) => { dialogs.push(d.message()); d.dismiss(); });
  await fake_answer(page);
  await pick_model(page);
  await send(page, "Show me some Markdown");
  await wait_answer(page);
  const msg = page.locator(sel("assistant-text")).last();
  assert.equal(await msg.locator("h2").textContent(), "A heading");
  assert.equal(await msg.locator("strong").textContent(), "bold");
  assert.deepEqual(await msg.locator("table th").allTextContents(), ["name", "value"]);
  assert.deepEqual(await msg.locator("table td").allTextContents(), ["pi", "3.14"]);
  const code = msg.locator("pre code");
  assert.equal(await code.textContent(), "def greet(name):\n    return f\"hello {name}\"\n");
  assert.ok(await code.locator(".hljs-keyword").count() >= 2, "python keywords are highlighted");
  assert.equal(await code.locator(".hljs-keyword").first().textContent(), "def");

  // Nothing from the model runs or stays as markup that could.
  assert.equal(await msg.locator("script, img, iframe, [onerror], [onmouseover], [style]").count(), 0);
  await msg.locator("b", { hasText: "hover" }).hover().catch(() => {});
  assert.equal(await msg.locator('a[href^="javascript"]').count(), 0, "the javascript: link lost its href");
  assert.equal(await msg.locator('a[href="https://example.com"]').getAttribute("rel"), "noopener noreferrer");
  const xss = await page.evaluate(() => [window.__xss_script, window.__xss_img, window.__xss_b, window.__xss_link]);
  assert.deepEqual(xss, [undefined, undefined, undefined, undefined], "no model-supplied script ran");
  assert.deepEqual(dialogs, []);

  // The code block's copy button puts the code on the clipboard.
  await page.locator(sel("code-copy")).click();
  await page.waitForFunction(() => document.querySelector("[data-testid=code-copy]").textContent === "Copied");
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), "def greet(name):\n    return f\"hello {name}\"\n");

  // A message's Copy button copies its Markdown source.
  await page.locator(`${sel("assistant-message")} ${sel("copy")}`).last().click();
  await page.waitForFunction(() => [...document.querySelectorAll("[data-testid=copy]")].some((b) => b.textContent === "Copied"));
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), answer);

  // Reasoning is folded, labelled with how long it took.
  const thinking = page.locator(sel("thinking")).last();
  assert.match(await thinking.locator("summary").textContent(), /^Thought for \d+\.\d s$/);
  assert.equal(await thinking.getAttribute("open"), null, "folded");
  assert.equal(await thinking.locator(".thinking-text").isVisible(), false);
  await thinking.locator("summary").click();
  assert.equal(await thinking.locator(".thinking-text").textContent(), "Let me think about greetings.");
  // Prompt and generation speed from the final line's counts and durations (12 in 0.1 s, 30 in 0.5 s).
  assert.equal(await page.locator(sel("stats")).last().textContent(),
               "prompt 12 tokens at 120.0 tokens/s · answer 30 tokens at 60.0 tokens/s");
  assert.deepEqual(errors, []);
  await context.close();
});

for (const [width, height] of [[390, 844], [1280, 800]]) {
  for (const scheme of ["light", "dark"]) {
    test(`screenshot ${width}x${height} ${scheme}`, { timeout: 20_000 }, async () => {
      const { context, page, errors } = await open_page(server.url, { width, height, colorScheme: scheme });
      await fake_answer(page);
      await pick_model(page);
      await send(page, "Show me some Markdown");
      await wait_answer(page);
      // Dark mode comes from the system setting: the page's background follows it.
      const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      assert.equal(bg, scheme === "dark" ? "rgb(22, 23, 26)" : "rgb(247, 247, 248)");
      // Nothing sticks out sideways, down to a 360 px phone.
      const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(await overflow() <= 0, `page is ${await overflow()}px wider than the viewport`);
      if (width < 800) {
        await page.setViewportSize({ width: 360, height });
        assert.ok(await overflow() <= 0, `at 360 px the page is ${await overflow()}px too wide`);
        await page.setViewportSize({ width, height });
      }
      // Desktop: the chat list sits beside the chat. Phone: it is off screen until the menu opens it.
      const side = await page.locator(sel("sidebar")).boundingBox();
      if (width >= 800) assert.equal(side.x, 0);
      else {
        assert.ok(side.x + side.width <= 0, `chat list in view on a phone: ${JSON.stringify(side)}`);
        await page.click(sel("menu"));
        await page.waitForFunction(() => document.getElementById("sidebar").getBoundingClientRect().x >= 0);
        await page.click("#scrim", { position: { x: width - 10, y: 10 } });
        await page.waitForFunction(() => document.getElementById("sidebar").getBoundingClientRect().right <= 0);
      }
      const shot = screenshot_path(`web-${width}x${height}-${scheme}.png`);
      await page.screenshot({ path: shot });
      console.log(`screenshot: ${shot}`);
      assert.deepEqual(errors, []);
      await context.close();
    });
  }
}

// LaTeX as models write it: display math ($$...$$, \[...\]) and inline ($...$, \(...\)) become
// MathML; prices stay text; math markup from the model is sanitised like the rest.
const math_answer = [
  "The roots are",
  "",
  "$$x = \\frac{-b \\pm \\sqrt{b^2 - 4ac}}{2a}$$",
  "",
  "where $a \\neq 0$ and \\(b^2\\) matters. It costs $5 or $6 today.",
  "",
  "\\[\\sum_{i=1}^{n} i = \\frac{n(n+1)}{2}\\]",
  "",
  "A link in math: $\\href{javascript:window.__xss_math=1}{x}$.",
].join("\n");

test("LaTeX math renders as MathML; prices stay text; math cannot run script", { timeout: 30_000 }, async () => {
  const { page, errors } = await open_page(server.url);
  await fake_answer(page, math_answer, "");
  await pick_model(page);
  await send(page, "Solve a quadratic");
  await wait_answer(page);
  const msg = page.locator(sel("assistant-text")).last();
  assert.equal(await msg.locator('math[display="block"]').count(), 2, "two display formulas");
  assert.ok(await msg.locator('math:not([display="block"])').count() >= 2, "inline formulas: $a \\neq 0$ and \\(b^2\\)");
  assert.ok(await msg.locator("math mfrac").count() >= 2, "fractions are MathML fractions");
  assert.ok(await msg.locator("math msqrt").count() >= 1, "the square root is a MathML root");
  const text = await msg.textContent();
  assert.match(text, /It costs \$5 or \$6 today\./, "prices are not math");
  assert.equal(await msg.locator("a[href], [href^=javascript]").count(), 0, "\\href gives no link");
  assert.equal(await page.evaluate(() => window.__xss_math), undefined);
  assert.deepEqual(errors, []);
  await page.context().close();
});

