// The pure parts of issue 11's messages: coordinator URLs as newcomers type
// them, where a job's syntax error is, and which returned values lose their class.
import { describe, expect, it } from 'vitest';
import vm from 'node:vm';
import { parseCoordinatorUrl, connectFailure } from '../../shared/api/connect-help.js';
import { syntaxErrorAt } from '../../coordinator/jobs/syntax.js';
import { resultJson } from '../../coordinator/jobs/result.js';
import { classInstanceIn } from '../../shared/executor/task-code.js';
import { ERRORS, ERROR_CODES, FAILURE_CODES, errorFromCode, ActorDiedError, TabmeshError } from '../../shared/errors.js';
import { messageCheck } from '../../shared/protocol/messages.js';

describe('coordinator URLs', () => {
  it('accepts a URL without a scheme, the dashboard address with its token, ws URLs and trailing slashes', () => {
    expect(parseCoordinatorUrl('127.0.0.1:8080')).toEqual({ base: 'http://127.0.0.1:8080', token: undefined });
    expect(parseCoordinatorUrl('  http://127.0.0.1:8080/ ')).toEqual({ base: 'http://127.0.0.1:8080', token: undefined });
    expect(parseCoordinatorUrl('http://127.0.0.1:8080/dashboard#token=a%2Bb')).toEqual({ base: 'http://127.0.0.1:8080', token: 'a+b' });
    expect(parseCoordinatorUrl('ws://h:1/ws').base).toBe('http://h:1');
    expect(parseCoordinatorUrl('https://mesh.example/base/').base).toBe('https://mesh.example/base');
  });

  it('refuses what is not an http(s) address with BAD_URL, naming it', () => {
    for (const bad of ['', 'ftp://x', 'http://[::1']) {
      let err: unknown;
      try {
        parseCoordinatorUrl(bad);
      } catch (e) {
        err = e;
      }
      expect(err, bad).toMatchObject({ code: 'BAD_URL' });
      expect((err as Error).message).toContain('http://127.0.0.1:8080');
    }
  });

  it('says "connection refused" and "not a coordinator" with the URL', () => {
    const refused = connectFailure('http://127.0.0.1:9', 'connect ECONNREFUSED 127.0.0.1:9');
    expect(refused.code).toBe('UNREACHABLE');
    expect(refused.message).toContain('no tabmesh coordinator at http://127.0.0.1:9 (connection refused)');
    expect(refused.message).toContain('npm start');
    const other = connectFailure('http://127.0.0.1:9', 'Unexpected server response: 404');
    expect(other.code).toBe('NOT_A_COORDINATOR');
    expect(other.message).toContain('http://127.0.0.1:9 is not a tabmesh coordinator');
  });
});

describe('the error registry', () => {
  it('every code has an HTTP status and a message; failure codes are registered; wire errors accept registered codes only', () => {
    for (const code of ERROR_CODES) {
      expect(ERRORS[code].status, code).toBeGreaterThanOrEqual(400);
      expect(ERRORS[code].text.length, code).toBeGreaterThan(5);
    }
    for (const code of FAILURE_CODES) expect(ERROR_CODES).toContain(code);
    for (const code of ['REFUSED', 'DISTRUSTED', 'NODE_DEAD', 'RATE_LIMITED', 'TOO_MANY_TASKS', 'BAD_JOB', 'NOT_FOUND', 'INFEASIBLE'])
      expect(ERROR_CODES).toContain(code);
    expect(messageCheck({ t: 'error', code: 'REFUSED', message: 'no' }, 'm')).toBeNull();
    expect(messageCheck({ t: 'error', code: 'MADE_UP', message: 'no' }, 'm')).toMatch(/code: expected one of/);
  });

  it('codes read back become their classes', () => {
    expect(errorFromCode('ACTOR_DIED', 'gone')).toBeInstanceOf(ActorDiedError);
    const e = errorFromCode('UNAUTHORIZED', 'bad token');
    expect(e).toBeInstanceOf(TabmeshError);
    expect(e.code).toBe('UNAUTHORIZED');
    expect(errorFromCode('ERR_SOMETHING', 'x').code).toBe('INTERNAL');
  });
});

describe("a job's syntax error", () => {
  const compile = (source: string) => {
    try {
      vm.runInContext(`(async () => {\n${source}\n})`, vm.createContext({}), { filename: 'tabmesh-job:j', lineOffset: -1 });
    } catch (e) {
      return syntaxErrorAt(e, 'tabmesh-job:j', source.split('\n').length);
    }
    return 'compiled';
  };

  it('is placed at its line and column of the job source', () => {
    expect(compile('const a = 1;\nconst b = foo(;\nreturn a;')).toEqual({ name: 'SyntaxError', message: "Unexpected token ';' at line 2, column 15" });
  });

  it('an unclosed bracket is placed at the end of the code', () => {
    expect((compile('const a = [1, 2;\n') as { message: string }).message).toMatch(/line 1, column|at the end of the code/);
    expect((compile('if (x) {\n  return 1;\n') as { message: string }).message).toContain('at the end of the code (line 3)');
  });

  it('other errors are not syntax errors', () => {
    expect(syntaxErrorAt(new TypeError('x'), 'tabmesh-job:j', 1)).toBeNull();
    expect(compile('return 1')).toBe('compiled');
  });
});

describe('returned values that lose their class', () => {
  class Point {
    constructor(
      readonly x: number,
      readonly y: number,
    ) {}
  }
  it('finds a class instance anywhere inside a value, with its path', () => {
    expect(classInstanceIn(new Point(1, 2))).toEqual({ className: 'Point', path: '' });
    expect(classInstanceIn({ a: [1, { p: new Point(1, 2) }] })).toEqual({ className: 'Point', path: '.a[1].p' });
    expect(classInstanceIn(new Map([['k', new Point(0, 0)]]))).toMatchObject({ className: 'Point' });
  });

  it('plain data and the types the codec keeps are not reported', () => {
    for (const v of [
      1,
      'x',
      null,
      undefined,
      [1, 2],
      { a: { b: [new Date(), new Uint8Array(2), new Map(), new Set([1]), new Error('e')] } },
      Object.create(null),
    ]) {
      expect(classInstanceIn(v)).toBeNull();
    }
  });
});

describe("a submitted job's result", () => {
  it("an Error returned from the job's own realm (the program's context) keeps its name and message, never {}", () => {
    const realm = vm.createContext({});
    const err = vm.runInContext(`new RangeError('out of range')`, realm) as unknown;
    expect(err instanceof Error).toBe(false); // another realm: why `instanceof` was not enough
    expect(JSON.parse(resultJson(err))).toEqual({ name: 'RangeError', message: 'out of range' });
    const nested = vm.runInContext(
      `class Mine extends Error { constructor(m) { super(m); this.name = 'Mine'; } }; ({ ok: false, why: new Mine('nope') })`,
      realm,
    ) as unknown;
    expect(JSON.parse(resultJson(nested))).toEqual({ ok: false, why: { name: 'Mine', message: 'nope' } });
    expect(JSON.parse(resultJson(new TypeError('here')))).toEqual({ name: 'TypeError', message: 'here' });
  });

  it('Maps, Sets, BigInts and typed arrays read as JSON; undefined is null; a large result is cut', () => {
    expect(JSON.parse(resultJson({ m: new Map([['a', 1]]), s: new Set([1, 2]), b: 2n ** 70n, t: new Uint8Array([1, 2]) }))).toEqual({
      m: { a: 1 },
      s: [1, 2],
      b: (2n ** 70n).toString(),
      t: [1, 2],
    });
    expect(resultJson(undefined)).toBe('null');
    expect(JSON.parse(resultJson('x'.repeat(100_000)))).toMatchObject({ truncated: true });
  });
});
