// A tiny DNS server for tests (node, no dependencies): UDP on 127.0.0.1:53 (root only), or the
// port given. Answers A queries for the names given as NAME=IPv4, NODATA for their other record
// types (AAAA), NXDOMAIN for every other name. Prints "READY" once listening and then one
// "QUERY <name> <type>" line per question, so a test can see that lookups came here.
//   node dns.mjs [--port N] NAME=IP...
import dgram from 'node:dgram';

const args = process.argv.slice(2);
let port = 53;
const names = new Map();
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--port') { port = Number(args[++i]); continue; }
  const [name, ip] = args[i].split('=');
  names.set(name.toLowerCase(), ip.split('.').map(Number));
}

const sock = dgram.createSocket('udp4');
sock.on('message', (msg, from) => {
  if (msg.length < 12) return;
  // The first question: labels up to a zero byte, then type and class.
  let off = 12;
  const labels = [];
  while (off < msg.length && msg[off] !== 0) {
    const len = msg[off];
    labels.push(msg.subarray(off + 1, off + 1 + len).toString('latin1'));
    off += 1 + len;
  }
  const qend = off + 5;  // zero byte, type, class
  if (qend > msg.length) return;
  const name = labels.join('.').toLowerCase();
  const type = msg.readUInt16BE(off + 1);
  console.log(`QUERY ${name} ${type === 1 ? 'A' : type === 28 ? 'AAAA' : type}`);
  const ip = names.get(name);
  const answer = ip && type === 1;
  const header = Buffer.alloc(12);
  msg.copy(header, 0, 0, 2);                                   // id
  header.writeUInt16BE(0x8180 | (ip ? 0 : 3), 2);              // response, RD, RA; NXDOMAIN
  header.writeUInt16BE(1, 4);                                  // one question
  header.writeUInt16BE(answer ? 1 : 0, 6);                     // answers
  const parts = [header, msg.subarray(12, qend)];
  if (answer) {
    const rr = Buffer.alloc(16);
    rr.writeUInt16BE(0xc00c, 0);                               // the question's name
    rr.writeUInt16BE(1, 2);                                    // A
    rr.writeUInt16BE(1, 4);                                    // IN
    rr.writeUInt32BE(60, 6);                                   // TTL
    rr.writeUInt16BE(4, 10);
    Buffer.from(ip).copy(rr, 12);
    parts.push(rr);
  }
  sock.send(Buffer.concat(parts), from.port, from.address);
});
sock.bind(port, '127.0.0.1', () => console.log('READY'));
