#!/usr/bin/env bash
# Issue 18, the phone end to end: the static aarch64 binary (the one for Termux), under qemu, in a
# mount namespace whose /etc holds only qemu's loader cache, as Android has no nsswitch.conf,
# resolv.conf, hosts or CA bundle there. Names resolve through a DNS server on 127.0.0.1:53
# (tests/e2e/store/dns.mjs) named in a Termux-style $PREFIX/etc/resolv.conf. It
#   - lists and runs the models of fake proot-distro Ollama stores in place (proot_store.sh);
#   - pulls from the test registry over plain HTTP (127.0.0.1 and localhost), and over HTTPS by
#     name from one with a test CA made here: refused without the CA, with a certificate for
#     another name, or for an unknown name; accepted with SSL_CERT_FILE or $PREFIX/etc/tls/cert.pem;
#   - serves: the openai and ollama npm clients stream chat from it over loopback, the web page
#     comes gzipped or plain (termux_clients.mjs), and `ps` shows the loaded model.
# Runs as root (unshare -m, and port 53).
# Usage: termux_static.sh STATIC_POCKETLM STORIES_GGUF
source "$(dirname "$0")/store/lib.sh"
e2e=$(cd "$(dirname "$0")" && pwd)
static_bin=$1
stories=$2
pids=()
unset SSL_CERT_FILE SSL_CERT_DIR   # the CA bundle comes only from where each step says
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; cleanup' EXIT

# `pocketlm` here is the static binary under qemu with Android's /etc (nothing of glibc's).
android_etc=$tmp/android-etc
mkdir -p "$android_etc"
cp /etc/ld.so.cache "$android_etc/"
cat >"$tmp/android-pocketlm" <<SH
#!/bin/sh
exec unshare -m sh -c 'mount --bind "\$0" /etc && exec qemu-aarch64 "\$@"' "$android_etc" "$static_bin" "\$@"
SH
chmod +x "$tmp/android-pocketlm"
bin=$tmp/android-pocketlm
unshare -m sh -c 'mount --bind "$0" /etc && test ! -e /etc/nsswitch.conf && test ! -e /etc/resolv.conf' "$android_etc" ||
  fail "the namespace still shows glibc's files"

echo "== proot-distro stores: listed and run in place"
bash "$e2e/store/proot_store.sh" "$bin" "$stories"

# wait_for FILE TEXT PID: until FILE has a line TEXT (PID must stay alive).
wait_for() {
  for _ in $(seq 1 600); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || fail "exited: $(cat "$1")"
    sleep 0.05
  done
  fail "timed out waiting for '$2' in $1: $(cat "$1")"
}

echo "== DNS on 127.0.0.1:53, named in \$PREFIX/etc/resolv.conf"
node "$here/dns.mjs" registry.termux.test=127.0.0.1 other.termux.test=127.0.0.1 >"$tmp/dns.out" 2>&1 &
pids+=($!)
wait_for "$tmp/dns.out" READY "${pids[-1]}"
export PREFIX=$tmp/prefix
mkdir -p "$PREFIX/etc"
printf '# Termux keeps its resolver file here\nnameserver 127.0.0.1\n' >"$PREFIX/etc/resolv.conf"

name=registry.ollama.ai/library/stories/260k
node "$here/make_ollama_store.mjs" "$tmp/registry" "$name" "$stories" pulled \
  --params '{"temperature":0,"num_predict":5}' >/dev/null
hex=$(sha256sum "$stories" | cut -d' ' -f1)
blob=$POCKETLM_MODELS/blobs/sha256-$hex

echo "== pull over plain HTTP (loopback)"
start_registry "$tmp/registry"
out=$(POCKETLM_REGISTRY=$reg "$bin" pull stories:260k 2>&1) || fail "pull from $reg: $out"
check cmp -s "$blob" "$stories"
check "$bin" rm stories:260k >/dev/null
out=$(POCKETLM_REGISTRY=http://localhost:$port "$bin" pull stories:260k 2>&1) || fail "pull from localhost: $out"
check cmp -s "$blob" "$stories"
check "$bin" rm stories:260k >/dev/null

echo "== pull over HTTPS by name, certificates checked"
ca=$tmp/ca
mkdir -p "$ca"
ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
openssl req -x509 "${ec[@]}" -keyout "$ca/ca.key" -out "$ca/ca.pem" -days 2 -subj /CN=pocketlm-test-ca \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
openssl req "${ec[@]}" -keyout "$ca/srv.key" -out "$ca/srv.csr" -subj /CN=registry.termux.test 2>/dev/null
printf 'subjectAltName=DNS:registry.termux.test\nextendedKeyUsage=serverAuth\n' >"$ca/ext"
openssl x509 -req -in "$ca/srv.csr" -CA "$ca/ca.pem" -CAkey "$ca/ca.key" -CAcreateserial -out "$ca/srv.pem" \
  -days 2 -extfile "$ca/ext" 2>/dev/null
node "$here/registry.mjs" "$tmp/registry" "$ca/srv.key" "$ca/srv.pem" >"$tmp/tls.out" 2>&1 &
pids+=($!)
wait_for "$tmp/tls.out" PORT "${pids[-1]}"
tls_port=$(sed -n 's/^PORT //p' "$tmp/tls.out")
https_reg=https://registry.termux.test:$tls_port
if out=$(POCKETLM_REGISTRY=$https_reg "$bin" pull stories:260k 2>&1); then fail "pulled without the test CA: $out"; fi
[ ! -e "$blob" ] || fail "blob kept from an unverified registry"
grep -q "QUERY registry.termux.test A" "$tmp/dns.out" || fail "the name was not asked of the DNS server: $(cat "$tmp/dns.out")"
out=$(SSL_CERT_FILE=$ca/ca.pem POCKETLM_REGISTRY=$https_reg "$bin" pull stories:260k 2>&1) || fail "pull with SSL_CERT_FILE: $out"
contains "$out" "success"
check cmp -s "$blob" "$stories"
check "$bin" rm stories:260k >/dev/null
if out=$(SSL_CERT_FILE=$ca/ca.pem POCKETLM_REGISTRY=https://other.termux.test:$tls_port "$bin" pull stories:260k 2>&1); then
  fail "pulled from a host whose certificate names another: $out"
fi
if out=$(SSL_CERT_FILE=$ca/ca.pem POCKETLM_REGISTRY=https://nosuch.termux.test:$tls_port "$bin" pull stories:260k 2>&1); then
  fail "pulled from an unknown name: $out"
fi
grep -q "QUERY nosuch.termux.test" "$tmp/dns.out" || fail "nosuch.termux.test was not asked of the DNS server"
mkdir -p "$PREFIX/etc/tls"
cp "$ca/ca.pem" "$PREFIX/etc/tls/cert.pem"   # Termux's CA bundle
out=$(POCKETLM_REGISTRY=$https_reg "$bin" pull stories:260k 2>&1) || fail "pull with \$PREFIX/etc/tls/cert.pem: $out"
check cmp -s "$blob" "$stories"

echo "== serve: openai and ollama clients stream chat, the web page, ps"
serve_port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
"$bin" serve --port "$serve_port" -t 1 2>"$tmp/serve.err" &
pids+=($!)
wait_for "$tmp/serve.err" "listening on" "${pids[-1]}"
node "$e2e/termux_clients.mjs" "http://127.0.0.1:$serve_port" stories:260k || fail "clients"
out=$(POCKETLM_PORT=$serve_port "$bin" ps 2>&1) || fail "ps: $out"
grep -q '^stories:260k ' <<<"$out" || fail "ps does not show the loaded model: $out"
echo "PASS"
