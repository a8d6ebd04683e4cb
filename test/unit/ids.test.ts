// Identities (ARCHITECTURE.md "Identities"): ids are fixed-size hex prints,
// derived deterministically from their parents so that re-running a task
// re-creates the same child task ids and object ids.
import { sha256 } from '@noble/hashes/sha2';
import { describe, expect, it } from 'vitest';
import { installNodeHasher } from '../../edge/node-hash.js';
import {
  artifactObjectId,
  childTaskId,
  fromHex,
  FUNCTION_ID_BYTES,
  functionId,
  isHexId,
  isPutObject,
  JOB_ID_BYTES,
  jobOfRootTask,
  newJobId,
  newNodeId,
  NODE_ID_BYTES,
  OBJECT_ID_BYTES,
  PUT_FLAG,
  putObjectId,
  returnObjectId,
  rootTaskId,
  setIdHasher,
  TASK_ID_BYTES,
  taskOfObject,
  toHex,
  type JobId,
  type ObjectId,
  type TaskId,
} from '../../shared/ids.js';

const JOB = '0123456789abcdef' as JobId;
const ROOT = rootTaskId(JOB);

describe('ids are fixed-size lowercase hex', () => {
  it('every kind of id has the documented byte length', () => {
    expect(newJobId()).toHaveLength(JOB_ID_BYTES * 2);
    expect(newNodeId()).toHaveLength(NODE_ID_BYTES * 2);
    expect(rootTaskId(newJobId())).toHaveLength(TASK_ID_BYTES * 2);
    expect(childTaskId(ROOT, 0)).toHaveLength(TASK_ID_BYTES * 2);
    expect(returnObjectId(ROOT, 0)).toHaveLength(OBJECT_ID_BYTES * 2);
    expect(putObjectId(ROOT, 0)).toHaveLength(OBJECT_ID_BYTES * 2);
    expect(functionId('function', 'x => x')).toHaveLength(FUNCTION_ID_BYTES * 2);
  });

  it('an object id is a task id plus a 4-byte index', () => {
    expect(OBJECT_ID_BYTES).toBe(TASK_ID_BYTES + 4);
  });

  it('every generated id passes isHexId for its own size and fails for others', () => {
    const cases: Array<[string, number]> = [
      [newJobId(), JOB_ID_BYTES],
      [newNodeId(), NODE_ID_BYTES],
      [childTaskId(ROOT, 7), TASK_ID_BYTES],
      [returnObjectId(childTaskId(ROOT, 7), 2), OBJECT_ID_BYTES],
      [putObjectId(ROOT, 3), OBJECT_ID_BYTES],
      [functionId('function', 'a'), FUNCTION_ID_BYTES],
    ];
    for (const [id, n] of cases) {
      expect(isHexId(id, n)).toBe(true);
      expect(isHexId(id, n + 1)).toBe(false);
      expect(isHexId(id, n - 1)).toBe(false);
    }
  });

  it('isHexId refuses uppercase, non-hex, wrong length and non-strings', () => {
    const good = 'ab'.repeat(JOB_ID_BYTES);
    expect(isHexId(good, JOB_ID_BYTES)).toBe(true);
    expect(isHexId(good.toUpperCase(), JOB_ID_BYTES)).toBe(false);
    expect(isHexId('zz' + good.slice(2), JOB_ID_BYTES)).toBe(false);
    expect(isHexId(good + 'a', JOB_ID_BYTES)).toBe(false);
    expect(isHexId(good.slice(1), JOB_ID_BYTES)).toBe(false);
    expect(isHexId('', 0)).toBe(true); // degenerate but consistent: zero bytes print as ''
    expect(isHexId(' ' + good.slice(1), JOB_ID_BYTES)).toBe(false);
    expect(isHexId(good.slice(2) + '\n0', JOB_ID_BYTES)).toBe(false);
    for (const x of [undefined, null, 12, {}, [good], new String(good)]) expect(isHexId(x, JOB_ID_BYTES)).toBe(false);
  });

  it('toHex and fromHex are inverses', () => {
    const bytes = new Uint8Array([0, 1, 15, 16, 127, 128, 254, 255]);
    expect(toHex(bytes)).toBe('00010f107f80feff');
    expect(fromHex(toHex(bytes))).toEqual(bytes);
    expect(toHex(new Uint8Array(0))).toBe('');
  });

  it('fresh job and node ids are random', () => {
    const jobs = new Set(Array.from({ length: 200 }, () => newJobId()));
    const nodes = new Set(Array.from({ length: 200 }, () => newNodeId()));
    expect(jobs.size).toBe(200);
    expect(nodes.size).toBe(200);
  });
});

describe('child task ids: a re-run parent re-creates the same children', () => {
  it('the same parent and index give the same id, every time', () => {
    const parent = childTaskId(ROOT, 3);
    expect(childTaskId(parent, 5)).toBe(childTaskId(parent, 5));
    // Interleaving other derivations (the function keeps a scratch buffer) changes nothing.
    const first = childTaskId(parent, 5);
    childTaskId(ROOT, 99);
    childTaskId(childTaskId(ROOT, 1), 2);
    expect(childTaskId(parent, 5)).toBe(first);
  });

  it('a different index or a different parent gives a different id', () => {
    const a = childTaskId(ROOT, 0);
    const b = childTaskId(ROOT, 1);
    const other = rootTaskId('fedcba9876543210' as JobId);
    expect(a).not.toBe(b);
    expect(childTaskId(other, 0)).not.toBe(a);
    expect(childTaskId(a, 0)).not.toBe(childTaskId(b, 0));
  });

  it('a thousand siblings and their children are all distinct', () => {
    const seen = new Set<TaskId>();
    for (let i = 0; i < 1000; i++) {
      const c = childTaskId(ROOT, i);
      seen.add(c);
      seen.add(childTaskId(c, 0));
    }
    expect(seen.size).toBe(2000);
  });

  it('a child id is not its parent and does not look like a root task', () => {
    const c = childTaskId(ROOT, 0);
    expect(c).not.toBe(ROOT);
    expect(c.endsWith('0'.repeat((TASK_ID_BYTES - JOB_ID_BYTES) * 2))).toBe(false);
  });

  it('the index is taken as an unsigned 32-bit number', () => {
    // Documents the index space: indexes are u32, so 2^32 wraps to 0.
    expect(childTaskId(ROOT, 2 ** 32 - 1)).not.toBe(childTaskId(ROOT, 0));
    expect(childTaskId(ROOT, 2 ** 32)).toBe(childTaskId(ROOT, 0));
  });
});

describe('root tasks and jobs', () => {
  it('a driver submits from its job id, zero-padded to a task id', () => {
    expect(ROOT).toBe(JOB + '0'.repeat((TASK_ID_BYTES - JOB_ID_BYTES) * 2));
    expect(isHexId(ROOT, TASK_ID_BYTES)).toBe(true);
  });

  it('jobOfRootTask gives back the job', () => {
    for (let i = 0; i < 20; i++) {
      const j = newJobId();
      expect(jobOfRootTask(rootTaskId(j))).toBe(j);
    }
  });
});

describe('object ids: task id + return or put index', () => {
  const task = childTaskId(ROOT, 42);

  it('a return object belongs to its task and is not a put', () => {
    for (const i of [0, 1, 255, 1023]) {
      const o = returnObjectId(task, i);
      expect(o.startsWith(task)).toBe(true);
      expect(taskOfObject(o)).toBe(task);
      expect(isPutObject(o)).toBe(false);
      expect(o.slice(TASK_ID_BYTES * 2)).toBe(i.toString(16).padStart(8, '0'));
    }
  });

  it('a put object belongs to its task and carries the flag bit', () => {
    for (const i of [0, 1, 1000, 0x7fffffff]) {
      const o = putObjectId(task, i);
      expect(taskOfObject(o)).toBe(task);
      expect(isPutObject(o)).toBe(true);
      expect(parseInt(o.slice(TASK_ID_BYTES * 2), 16)).toBe((PUT_FLAG | i) >>> 0);
    }
  });

  it('a driver put is an object of its root task', () => {
    const o = putObjectId(ROOT, 0);
    expect(taskOfObject(o)).toBe(ROOT);
    expect(jobOfRootTask(taskOfObject(o))).toBe(JOB);
    expect(isPutObject(o)).toBe(true);
  });

  it('the put flag is read from the index alone, at every first hex digit of an index', () => {
    for (let d = 0; d < 16; d++) {
      const index = d * 0x10000000 + 0x123456;
      const o = (task + index.toString(16).padStart(8, '0')) as ObjectId;
      expect(isPutObject(o)).toBe((index & PUT_FLAG) !== 0);
    }
  });

  it('return i and put i of the same task are different objects', () => {
    for (const i of [0, 1, 17]) expect(returnObjectId(task, i)).not.toBe(putObjectId(task, i));
  });

  it('object ids are deterministic: a re-run makes the same ids', () => {
    expect(returnObjectId(childTaskId(ROOT, 42), 3)).toBe(returnObjectId(task, 3));
    expect(putObjectId(childTaskId(ROOT, 42), 3)).toBe(putObjectId(task, 3));
  });
});

describe('function ids: hash(kind, source)', () => {
  it('the same kind and source give the same id', () => {
    expect(functionId('function', 'x => x + 1')).toBe(functionId('function', 'x => x + 1'));
  });

  it('a change of source or of kind gives another id', () => {
    const base = functionId('function', 'x => x + 1');
    expect(functionId('function', 'x => x + 2')).not.toBe(base);
    expect(functionId('function', 'x => x + 1 ')).not.toBe(base);
    expect(functionId('actor', 'x => x + 1')).not.toBe(base);
  });

  it('kind and source are not simply concatenated', () => {
    // 'ab' + 'c' and 'a' + 'bc' must not collide.
    expect(functionId('ab', 'c')).not.toBe(functionId('a', 'bc'));
  });

  it('unicode sources hash by their UTF-8 bytes', () => {
    expect(functionId('function', '() => "é"')).not.toBe(functionId('function', '() => "e\u0301"'));
    expect(isHexId(functionId('function', '() => "😀"'), FUNCTION_ID_BYTES)).toBe(true);
  });
});

describe('ids hashed on Node', () => {
  it("Node's SHA-256 (OpenSSL, edge/node-hash.ts) derives the same ids as the portable one browsers use", () => {
    const derive = () => [childTaskId(ROOT, 0), childTaskId(childTaskId(ROOT, 1), 2, 3), functionId('function', 'x => x'), artifactObjectId('ab'.repeat(32))];
    setIdHasher(sha256);
    const portable = derive();
    let calls = 0;
    setIdHasher((b) => (calls++, sha256(b)));
    derive();
    // Function and artifact ids go through the installed hasher; child task ids are one SHA-256 block
    // computed in place (shared/sha256-block.ts: the hasher's call cost more than the digest), the same digest.
    expect(calls).toBe(2);
    installNodeHasher();
    expect(derive()).toEqual(portable);
  });
});
