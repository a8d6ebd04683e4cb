// The receiving end of bench:objects' raw TCP baseline (issue 17), a process
// of its own: listens on loopback, prints its port, and for each connection
// reads an 8-byte little-endian length, then that many bytes into one buffer
// of that size allocated up front (as a fast link receives an object), and
// answers one byte when all of them are in. With `fresh` as its argument,
// a new buffer for every connection (fresh memory: on this project's VMs its
// page faults cost more than the bytes' trip).
import { createServer } from 'node:net';

const fresh = process.argv[2] === 'fresh';
let dst = new Uint8Array(0);
const srv = createServer((s) => {
  let want = -1;
  let got = 0;
  let head = Buffer.alloc(0);
  s.on('data', (d: Buffer) => {
    if (want < 0) {
      head = Buffer.concat([head, d]);
      if (head.length < 8) return;
      want = Number(head.readBigUInt64LE(0));
      if (fresh || dst.byteLength < want) dst = new Uint8Array(want);
      d = head.subarray(8);
    }
    dst.set(d, got);
    got += d.length;
    if (got >= want) s.end(Buffer.from([dst[want - 1] ?? 0]));
  });
  s.on('error', () => {});
});
srv.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${(srv.address() as { port: number }).port}\n`);
});
process.on('disconnect', () => process.exit(0));
