// Turns bench/compare.sh's raw lines (one per engine, model, threads, test and repetition) into
// the markdown table of the speed issue: mean ± sd tokens/s of both engines, their ratio, decode
// as a share of the bandwidth ceiling, peak RSS, and whether each target is met.
// Usage: node bench/compare_table.mjs RAW.jsonl PP TG "peer description"
import { readFileSync } from 'node:fs';

const [rawPath, pp, tg, peer] = process.argv.slice(2);
const rows = readFileSync(rawPath, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));

const stats = (xs) => {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = xs.length > 1
    ? Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean, sd };
};
const pick = (engine, model, threads, test) =>
  rows.filter((r) => r.engine === engine && r.model === model && r.threads === threads &&
                     r.test === test);
const fmt = (s) => `${s.mean.toFixed(1)} ± ${s.sd.toFixed(1)}`;
const mib = (b) => (b / 1048576).toFixed(0);

const keys = [...new Set(rows.map((r) => `${r.model}\t${r.threads}`))];
const lines = [
  `| model | -t | pp${pp} pocketlm | pp${pp} llama.cpp | pp ratio | tg${tg} pocketlm | ` +
  `tg${tg} llama.cpp | tg ratio | tg share of ceiling (pocketlm / llama.cpp) | ` +
  `peak RSS MiB (pocketlm / llama.cpp) | pocketlm load ms | targets |`,
  '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
];
for (const key of keys) {
  const [model, t] = key.split('\t');
  const threads = Number(t);
  const ours = { pp: pick('pocketlm', model, threads, 'pp'), tg: pick('pocketlm', model, threads, 'tg') };
  const peers = { pp: pick('llama.cpp', model, threads, 'pp'), tg: pick('llama.cpp', model, threads, 'tg') };
  if (!ours.pp.length || !ours.tg.length || !peers.pp.length || !peers.tg.length) continue;
  const s = {
    opp: stats(ours.pp.map((r) => r.ts)), otg: stats(ours.tg.map((r) => r.ts)),
    lpp: stats(peers.pp.map((r) => r.ts)), ltg: stats(peers.tg.map((r) => r.ts)),
  };
  const ceiling = stats(ours.tg.map((r) => r.ceiling).filter((c) => c > 0)).mean;
  const rssOurs = Math.max(...ours.pp.concat(ours.tg).map((r) => r.rss));
  const rssPeer = Math.max(...peers.pp.concat(peers.tg).map((r) => r.rss));
  const load = stats(ours.pp.map((r) => r.load_ms).filter((x) => x > 0)).mean;
  const ppRatio = s.opp.mean / s.lpp.mean;
  const tgRatio = s.otg.mean / s.ltg.mean;
  const tgTarget = Math.min(1.2 * s.ltg.mean, 0.95 * ceiling);
  const met = [
    ppRatio >= 1.2 ? 'pp ok' : 'pp MISSED',
    s.otg.mean >= tgTarget ? 'tg ok' : 'tg MISSED',
    rssOurs <= rssPeer ? 'rss ok' : 'rss MISSED',
  ].join(', ');
  lines.push(`| ${model} | ${threads} | ${fmt(s.opp)} | ${fmt(s.lpp)} | ${ppRatio.toFixed(2)} | ` +
             `${fmt(s.otg)} | ${fmt(s.ltg)} | ${tgRatio.toFixed(2)} | ` +
             `${(s.otg.mean / ceiling).toFixed(2)} / ${(s.ltg.mean / ceiling).toFixed(2)} | ` +
             `${mib(rssOurs)} / ${mib(rssPeer)} | ${Number.isFinite(load) ? load.toFixed(0) : '-'} | ${met} |`);
}
console.log(`Peer: llama.cpp llama-bench ${peer}; tokens/s, mean ± sd over interleaved repetitions.`);
console.log(`Targets: pp >= 1.2x llama.cpp; tg >= min(1.2x llama.cpp, 0.95 x ceiling); RSS <= llama.cpp.\n`);
console.log(lines.join('\n'));
