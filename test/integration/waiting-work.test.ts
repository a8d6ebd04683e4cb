// Issue 11: work that cannot run is reported, not silent, and what a task
// returns or calls wrongly says so. A real coordinator and a real edge node
// with one executor: a task needing a GPU or 8 CPUs stays pending (as in
// Ray), the driver hears once why, and the state API shows `infeasible`; a
// task waiting behind an actor that holds the only executor is explained too.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../edge/index.js';
import type { Mesh } from '../../shared/api/mesh.js';
import type { OutputLine } from '../../shared/api/output.js';
import { TaskError } from '../../shared/errors.js';
import { Cluster } from '../helpers/cluster.js';
import { call } from '../dashboard/helpers.js';

describe('waiting work and wrong returns', () => {
  let cl: Cluster;
  let m: Mesh;
  const warnings: { code: string; message: string }[] = [];
  const output: OutputLine[] = [];
  beforeAll(async () => {
    cl = await Cluster.start({ nodes: 1, cpus: 1 });
    m = await connect({ url: cl.url, token: cl.token, onWarning: (code, message) => warnings.push({ code, message }), onOutput: (l) => output.push(l) });
  });
  afterAll(async () => {
    await m?.close();
    await cl?.stop();
  });

  it('a task needing a GPU no node has stays pending, is listed as infeasible, and the driver is told once what it needs and what the mesh has', async () => {
    const render = m
      .remote(function render(x: number) {
        return x;
      })
      .options({ resources: { gpu: 1 } });
    const refs = [render.remote(1), render.remote(2), render.remote(3)];
    await cl.until(
      () => warnings.some((w) => w.code === 'INFEASIBLE'),
      15_000,
      () => 'the INFEASIBLE warning',
    );
    const infeasible = warnings.filter((w) => w.code === 'INFEASIBLE');
    expect(infeasible).toHaveLength(1);
    expect(infeasible[0].message).toMatch(
      /^task render \([0-9a-f]{12}\) needs \{cpu: 1, gpu: 1\}, which no node in the mesh has \(the mesh has 1 node with \{cpu: 1\}\); it stays pending/,
    );
    const listed = await call(cl, 'GET', `/api/tasks?job=${m.jobId}&state=infeasible`);
    expect(listed.status).toBe(200);
    expect(listed.json.map((t: { name: string }) => t.name)).toEqual(['render', 'render', 'render']);
    // Still pending, not failed.
    const w = await m.wait(refs, { numReturns: 1, timeoutMs: 300 });
    expect(w.ready).toHaveLength(0);
    expect((await call(cl, 'GET', '/api/events?kind=task-infeasible')).json.length).toBe(1);
    for (const r of refs) m.cancel(r);
  });

  it('numCpus: 8 on a 1-CPU mesh is its own warning; an actor that needs a GPU shows as infeasible in /api/actors', async () => {
    const big = m
      .remote(function crunch() {
        return 1;
      })
      .options({ numCpus: 8 });
    const ref = big.remote();
    await cl.until(
      () => warnings.some((w) => w.message.startsWith('task crunch')),
      15_000,
      () => 'the crunch warning',
    );
    expect(warnings.find((w) => w.message.startsWith('task crunch'))!.message).toContain('needs {cpu: 8}');
    m.cancel(ref);

    class Renderer {
      frame() {
        return 1;
      }
    }
    const R = m.remote(Renderer, { resources: { gpu: 2 } });
    R.remote();
    await cl.until(
      () => warnings.some((x) => x.message.startsWith('actor Renderer')),
      15_000,
      () => 'the actor warning',
    );
    const actors = await call(cl, 'GET', `/api/actors?job=${m.jobId}&state=infeasible`);
    expect(actors.json.map((a: { className: string }) => a.className)).toEqual(['Renderer']);
  });

  it('a task waiting behind an actor that holds the only executor is told why, naming the actor', async () => {
    class Holder {
      ping() {
        return 'pong';
      }
    }
    // A default actor holds no CPU while it lives (as in Ray); one that asks for a CPU keeps it.
    const h = m.remote(Holder, { numCpus: 1 }).remote();
    expect(await m.get(h.ping.remote())).toBe('pong');
    const after = m.remote(function afterActor() {
      return 'ran';
    });
    const ref = after.remote();
    await cl.until(
      () => warnings.some((w) => w.code === 'BLOCKED_BY_ACTOR'),
      15_000,
      () => 'the BLOCKED_BY_ACTOR warning',
    );
    const blocked = warnings.find((w) => w.code === 'BLOCKED_BY_ACTOR')!.message;
    expect(blocked).toMatch(
      /^task afterActor \([0-9a-f]{12}\) waits: every CPU that could run it is held by a live actor \(node .+ \(1 cpu, held by Holder\)\)/,
    );
    expect(blocked).toContain('numCpus: 0');
    m.kill(h);
    expect(await m.get(ref, { timeoutMs: 20_000 })).toBe('ran');
  });

  it('a returned class instance arrives as a plain object, and the driver is warned once', async () => {
    // The class is defined inside the function, so it ships with it; its instances still travel as data.
    const inner = m.remote(function makeInner(x: number) {
      class Pt {
        constructor(readonly x: number) {}
      }
      return { p: new Pt(x) };
    });
    const values = await m.get([inner.remote(1), inner.remote(2)]);
    expect(values).toEqual([{ p: { x: 1 } }, { p: { x: 2 } }]);
    expect(Object.getPrototypeOf(values[0].p)).toBe(Object.prototype);
    await cl.until(
      () => output.some((l) => l.text.includes('returned a Pt instance')),
      10_000,
      () => 'the class-instance warning',
    );
    const lines = output.filter((l) => l.text.includes('returned a Pt instance'));
    expect(lines).toHaveLength(1);
    expect(lines[0].level).toBe('warn');
    expect(lines[0].text).toBe(
      "tabmesh: makeInner returned a Pt instance (at .p): it arrives as a plain object, without its class's methods; return plain data (or rebuild the Pt from it where you read it)",
    );
  });

  it('returning a function fails with an error that says it was the return value', async () => {
    const f = m.remote(function giveFn() {
      return { cb: () => 1 };
    });
    const e = (await m.get(f.remote()).catch((x: unknown) => x)) as TaskError;
    expect(e).toBeInstanceOf(TaskError);
    expect(e.remoteMessage).toBe(
      'giveFn returned what cannot be sent: cannot send a function (at .cb); functions and symbols do not travel as values: return data (a function can run elsewhere as mesh.remote(fn))',
    );
  });

  it('calling a helper that is not defined where the task runs says "not defined", not "closure variable"', async () => {
    const f = m.remote(function usesHelper(x: number) {
      // @ts-expect-error: a helper of the script that does not ship with the function
      return helperOfMyScript(x) + 1;
    });
    const e = (await m.get(f.remote(1)).catch((x: unknown) => x)) as TaskError;
    expect(e.remoteName).toBe('ClosureVariableError');
    expect(e.remoteMessage).toMatch(
      /^remote function usesHelper: 'helperOfMyScript' is not defined where it runs \(it calls helperOfMyScript\(\), a function of your script\?\)/,
    );
    expect(e.remoteMessage).toContain('define helperOfMyScript inside usesHelper');
  });
});
