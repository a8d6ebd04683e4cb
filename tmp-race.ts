import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStorage } from './coordinator/gcs/sqlite-storage.js';
const dir = mkdtempSync(join(tmpdir(), 'race-'));
const f = join(dir, 'file'); writeFileSync(f, 'x');
const counts = new Map<string, number>();
const par = Number(process.argv[2] ?? 4), total = Number(process.argv[3] ?? 200);
let done = 0;
async function one() {
  while (done < total) {
    done++;
    try { await SqliteStorage.open(join(f, 'gcs.sqlite')); counts.set('opened', (counts.get('opened') ?? 0) + 1); }
    catch (e) { const m = (e as Error).message.replace(/\/tmp\/\S+/g, 'P'); counts.set(m, (counts.get(m) ?? 0) + 1); }
  }
}
const busy = setInterval(() => { const t = Date.now(); while (Date.now() - t < 30); }, 1);
await Promise.all(Array.from({ length: par }, one));
clearInterval(busy);
console.log(JSON.stringify([...counts]));
