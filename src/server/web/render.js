// Model output as Markdown: marked parses it, Temml turns LaTeX math into MathML, DOMPurify removes
// anything that could run (scripts, event handlers, javascript: links, iframes...), highlight.js
// colours the code blocks, and each block gets a copy button. The vendored libraries are globals
// (vendor/*.js, classic scripts).

const { marked, DOMPurify, hljs, temml } = window;

marked.setOptions({ gfm: true, breaks: false });

// LaTeX as MathML (no fonts, no scripts; Temml's \href and the like stay off without `trust`).
// Bad TeX shows as its source in an error colour instead of failing the answer.
function math_html(tex, display) {
  try {
    return temml.renderToString(tex, { displayMode: display, throwOnError: false });
  } catch {
    const code = document.createElement("code");
    code.textContent = tex;
    return code.outerHTML;
  }
}

// Math the way models write it: $$...$$ and \[...\] as blocks, \(...\) and $...$ inline. A
// single $ opens math only before a non-space and closes only after one, not before a digit, so
// prices ("$5 or $6") stay text.
marked.use({
  extensions: [
    {
      name: "math_block",
      level: "block",
      // Only a line that begins with $$ or \[ may end a paragraph: $$...$$ inside a line stays inline.
      start(src) {
        const m = /(^|\n)(\$\$|\\\[)/.exec(src);
        return m ? m.index + m[1].length : undefined;
      },
      tokenizer(src) {
        const m = /^\$\$([\s\S]+?)\$\$[^\S\n]*(?:\n|$)/.exec(src) || /^\\\[([\s\S]+?)\\\][^\S\n]*(?:\n|$)/.exec(src);
        if (m) return { type: "math_block", raw: m[0], text: m[1].trim() };
        return undefined;
      },
      renderer: (token) => `<div class="math">${math_html(token.text, true)}</div>`,
    },
    {
      name: "math_inline",
      level: "inline",
      start: (src) => src.match(/\$|\\\(/)?.index,
      tokenizer(src) {
        const m = /^\$\$([^$]+?)\$\$/.exec(src) || /^\\\(([\s\S]+?)\\\)/.exec(src) ||
                  /^\$(?!\s)([^$\n]+?)(?<!\s)\$(?!\d)/.exec(src);
        if (m) return { type: "math_inline", raw: m[0], text: m[1], display: m[0].startsWith("$$") };
        return undefined;
      },
      renderer: (token) => math_html(token.text, token.display),
    },
  ],
});
hljs.configure({ ignoreUnescapedHTML: true });

// Links open in a new tab and cannot reach back to this page.
DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A") {
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer");
  }
});

const purify_options = {
  // img: an answer must not make the browser fetch anything (a tracking pixel, a LAN probe).
  FORBID_TAGS: ["img", "style", "form", "input", "button", "textarea", "select", "iframe", "object", "embed"],
  FORBID_ATTR: ["style"],
};

export function markdown_html(text) {
  return DOMPurify.sanitize(marked.parse(text || ""), purify_options);
}

// Copies text; navigator.clipboard needs a secure context (a phone on http://LAN-address is not
// one), so there is a textarea fallback.
export async function copy_text(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch { /* fall back below */ }
  }
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.append(area);
  area.select();
  const ok = document.execCommand("copy");
  area.remove();
  return ok;
}

export function flash(button, text) {
  const old = button.dataset.label || button.textContent;
  button.dataset.label = old;
  button.textContent = text;
  setTimeout(() => { button.textContent = old; }, 1200);
}

// Renders `text` into `el` (replacing what is there) and dresses its code blocks.
export function render_markdown(el, text) {
  el.innerHTML = markdown_html(text);
  for (const code of el.querySelectorAll("pre > code")) {
    const lang = /language-([\w+#-]+)/.exec(code.className);
    if (lang && hljs.getLanguage(lang[1])) {
      code.innerHTML = hljs.highlight(code.textContent, { language: lang[1], ignoreIllegals: true }).value;
      code.classList.add("hljs");
    } else {
      hljs.highlightElement(code);
    }
    const pre = code.parentElement;
    const bar = document.createElement("div");
    bar.className = "code-bar";
    const label = document.createElement("span");
    label.textContent = lang ? lang[1] : "";
    const copy = document.createElement("button");
    copy.type = "button";
    copy.className = "code-copy";
    copy.dataset.testid = "code-copy";
    copy.textContent = "Copy";
    copy.addEventListener("click", async () => flash(copy, (await copy_text(code.textContent)) ? "Copied" : "Failed"));
    bar.append(label, copy);
    pre.before(bar);
    const wrap = document.createElement("div");
    wrap.className = "code-block";
    bar.before(wrap);
    wrap.append(bar, pre);
  }
  for (const table of el.querySelectorAll("table")) {
    const scroll = document.createElement("div");
    scroll.className = "table-scroll";
    table.before(scroll);
    scroll.append(table);
  }
}
