// A task's console in an executor (shared/executor/task-code.ts TaskLog): its
// methods are made at first use, stay the same functions, and work unbound.
import { describe, expect, it } from 'vitest';
import { TaskLog } from '../../shared/executor/task-code.js';
import type { ExecutorEndpoint } from '../../shared/executor/protocol.js';
import type { TaskId } from '../../shared/ids.js';

function endpoint(): { ep: ExecutorEndpoint; posted: unknown[] } {
  const posted: unknown[] = [];
  return { ep: { post: (m: unknown) => posted.push(m), onMessage: () => {} } as unknown as ExecutorEndpoint, posted };
}

describe('TaskLog', () => {
  it('posts each level with the task id; info and debug are log; methods work unbound', () => {
    const { ep, posted } = endpoint();
    const c = new TaskLog(ep, 't1' as TaskId);
    const { warn } = c;
    ['a', 'b'].forEach(c.log);
    warn('careful', 2);
    c.error(new Error('bad').message);
    c.info('i');
    c.debug('d');
    expect(posted).toEqual([
      { k: 'log', taskId: 't1', level: 'log', text: 'a 0 ["a","b"]' },
      { k: 'log', taskId: 't1', level: 'log', text: 'b 1 ["a","b"]' },
      { k: 'log', taskId: 't1', level: 'warn', text: 'careful 2' },
      { k: 'log', taskId: 't1', level: 'error', text: 'bad' },
      { k: 'log', taskId: 't1', level: 'log', text: 'i' },
      { k: 'log', taskId: 't1', level: 'log', text: 'd' },
    ]);
  });

  it('gives the same function each time a method is read, and posts nothing until one is called', () => {
    const { ep, posted } = endpoint();
    const c = new TaskLog(ep, 't2' as TaskId);
    expect(c.log).toBe(c.log);
    expect(c.warn).toBe(c.warn);
    expect(posted).toEqual([]);
  });
});
