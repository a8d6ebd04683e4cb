// A Node driver for the soak (issue 11): connects with its own peer stack,
// puts 50 MB, has a task read it, and exits without closing while the node
// may still be reading the put (over a peer link or the relay).
//
//   node dist/bench/soak-driver.js URL TOKEN
import { connect } from '../edge/index.js';

const [url, token] = process.argv.slice(2);
if (!url || !token) {
  process.stderr.write('usage: soak-driver URL TOKEN\n');
  process.exit(2);
}
const mesh = await connect({ url, token });
const ref = mesh.put(new Uint8Array(50 * 2 ** 20).fill(3));
const probe = mesh.remote(function probe(b: Uint8Array) {
  return b.length;
});
probe.remote(ref);
await new Promise((r) => setTimeout(r, 300));
process.exit(0);
