// Shared plumbing for the `pocketlm serve` tests: environment, a temp model store with the test
// models imported under names, starting and stopping servers on free loopback ports, the local
// registry for /api/pull, and small HTTP helpers for what the npm clients cannot send (malformed
// bodies, raw status codes). Paths come from ctest (tests/CMakeLists.txt).
import fs from "node:fs";
import os from "node:os";
import net from "node:net";
import path from "node:path";
import { spawn, execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";

const run_file = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));

function required_env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (the ctest entry sets it; see tests/CMakeLists.txt)`);
  return v;
}

export const env = {
  bin: required_env("POCKETLM_BIN"),
  gen_model: process.env.POCKETLM_GEN_MODEL ?? "",
  shared_dir: required_env("POCKETLM_SHARED_DIR"),
  // Generated models are cached here between runs (the generator is slow-ish).
  model_dir: process.env.POCKETLM_MODEL_DIR ?? path.join(os.tmpdir(), "pocketlm-server-models"),
  // Where the load test writes its summary.
  out_dir: process.env.POCKETLM_TEST_OUT ?? path.join(os.tmpdir(), "pocketlm-server-out"),
  threads: process.env.POCKETLM_THREADS ?? "2",
};

export const stories_gguf = () => path.join(env.shared_dir, "models", "stories260K.gguf");
export const sha256_file = (file) => createHash("sha256").update(fs.readFileSync(file)).digest("hex");

export function make_temp_dir(tag) {
  return fs.mkdtempSync(path.join(os.tmpdir(), `pocketlm-${tag}-`));
}

// Runs the CLI with the given environment overrides; resolves {stdout, stderr}, rejects on exit != 0.
export async function pocketlm(args, extra_env = {}) {
  return run_file(env.bin, args, { env: { ...process.env, ...extra_env }, maxBuffer: 16 << 20 });
}

// A synthetic model from pocketlm-gen-model (real vocabulary and chat template, random weights),
// generated once and cached; the cache key includes the generator binary's hash.
export async function generated_model(preset, type = "f16", seed = 1) {
  if (!env.gen_model) throw new Error("POCKETLM_GEN_MODEL is not set");
  fs.mkdirSync(env.model_dir, { recursive: true });
  const stamp = sha256_file(env.gen_model).slice(0, 16);
  const file = path.join(env.model_dir, `${preset}-${type}-s${seed}-${stamp}.gguf`);
  if (fs.existsSync(file)) return file;
  const tmp = `${file}.tmp${process.pid}`;
  await run_file(env.gen_model, ["--preset", preset, "--type", type, "--seed", String(seed), "-o", tmp,
                                 "-t", env.threads]);
  fs.renameSync(tmp, file);
  return file;
}

// A fresh store under `root` with each {file, name} imported.
export async function make_store(root, models) {
  const store = path.join(root, "models");
  fs.mkdirSync(store, { recursive: true });
  for (const m of models) await pocketlm(["import", m.file, m.name], store_env(root));
  return store;
}

// Environment that points pocketlm at a private store and home (never the user's ~/.ollama).
export function store_env(root) {
  return { HOME: path.join(root, "home"), POCKETLM_MODELS: path.join(root, "models"),
           OLLAMA_MODELS: path.join(root, "no-ollama") };
}

export async function free_port() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// Starts `pocketlm serve ARGS` on a free port; resolves once it prints "listening on http://...".
// Returns {url, port, pid, stderr(), stop()}. Retries on a port taken between probe and bind.
export async function start_server({ root, args = [], extra_env = {} }) {
  for (let attempt = 0; ; ++attempt) {
    const port = await free_port();
    try {
      return await spawn_server(port, root, args, extra_env);
    } catch (e) {
      if (attempt >= 2 || !/address|bind|in use/i.test(e.message)) throw e;
    }
  }
}

function spawn_server(port, root, args, extra_env) {
  const proc = spawn(env.bin, ["serve", "--host", "127.0.0.1", "--port", String(port), "-t", env.threads, ...args],
                     { env: { ...process.env, ...store_env(root), ...extra_env }, stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  proc.stdout.on("data", () => {});
  const exited = new Promise((resolve) => proc.once("exit", (code, sig) => resolve({ code, sig })));
  const server = {
    port, pid: proc.pid, url: `http://127.0.0.1:${port}`, proc, exited,
    stderr: () => err,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
      const t = setTimeout(() => proc.kill("SIGKILL"), 10000);
      const r = await exited;
      clearTimeout(t);
      return r;
    },
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error(`server did not print "listening on" within 60 s; stderr:\n${err}`));
    }, 60000);
    proc.stderr.on("data", (d) => {
      err += d;
      if (err.includes(`listening on http://127.0.0.1:${port}`)) {
        clearTimeout(timer);
        resolve(server);
      }
    });
    exited.then(({ code, sig }) => {
      clearTimeout(timer);
      reject(new Error(`server exited (code ${code}, signal ${sig}) before listening; stderr:\n${err}`));
    });
  });
}

// Runs registry.mjs (tests/e2e/store) over an Ollama-layout store holding `name` -> `gguf`.
// Returns {url, stop()}.
export async function start_registry(root, name, gguf) {
  const store_dir = path.join(here, "..", "e2e", "store");
  const reg_root = path.join(root, "registry");
  await run_file("node", [path.join(store_dir, "make_ollama_store.mjs"), reg_root, name, gguf, "pulled"]);
  const proc = spawn("node", [path.join(store_dir, "registry.mjs"), reg_root], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise((resolve, reject) => {
    let out = "";
    proc.stdout.on("data", (d) => {
      out += d;
      const m = /PORT (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    proc.once("exit", () => reject(new Error(`registry exited: ${out}`)));
  });
  return { url: `http://127.0.0.1:${port}`, stop: () => proc.kill("SIGTERM") };
}

// Raw request with a string/Buffer body; resolves {status, type, text, json} (json null if not JSON).
export async function raw(url, { method = "POST", body, headers = {} } = {}) {
  const res = await fetch(url, { method, body, headers: { "Content-Type": "application/json", ...headers } });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON: left null for the caller to assert on */ }
  return { status: res.status, type: res.headers.get("content-type") ?? "", text, json };
}

// Resident set size of a process in KiB, from /proc/PID/status (VmRSS).
export function rss_kib(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : 0;
}

export const l2_norm = (v) => Math.sqrt(Array.from(v).reduce((s, x) => s + x * x, 0));
// A stop string taken from the middle of `text` (whole code points), and the text before its
// first occurrence: what a request with that stop must return.
export function stop_from(text) {
  const cps = Array.from(text);
  if (cps.length < 4) throw new Error(`answer too short to cut: ${JSON.stringify(text)}`);
  const k = cps.length >> 1;
  const stop = cps.slice(k, k + 2).join("");
  return { stop, expected: text.slice(0, text.indexOf(stop)) };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
