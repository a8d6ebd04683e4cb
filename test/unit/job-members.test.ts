// A job's tasks and objects as intrusive lists (coordinator/jobs/job-members.ts,
// issue 14): they must answer as the Set they replaced did, in join order,
// through random adds and deletes, and keep no record alive once it left.
import { describe, expect, it } from 'vitest';
import { JobMembers, type JobLinks } from '../../coordinator/jobs/job-members.js';
import { seeded as rng } from '../sim/net.js';

interface Rec extends JobLinks<Rec> {
  n: number;
}
const rec = (n: number): Rec => ({ n, jobPrev: null, jobNext: null, jobList: null });

describe('a job list (JobMembers)', () => {
  it('answers as a Set does (size, has, order) through 20,000 random adds and deletes of 500 records', () => {
    const recs = Array.from({ length: 500 }, (_, i) => rec(i));
    const set = new Set<Rec>();
    const list = new JobMembers<Rec>();
    const r = rng(3);
    let wrong = 0;
    for (let step = 0; step < 20_000; step++) {
      const x = recs[Math.floor(r() * recs.length)];
      if (r() < 0.55) {
        set.add(x);
        list.add(x);
      } else if (set.delete(x) !== list.delete(x)) wrong++;
      if (set.has(x) !== list.has(x) || set.size !== list.size) wrong++;
      if (step % 997 === 0 && [...set].map((y) => y.n).join() !== [...list].map((y) => y.n).join()) wrong++;
    }
    expect(wrong).toBe(0);
    expect([...list].map((y) => y.n)).toEqual([...set].map((y) => y.n));
  });

  it('a record added twice is one member, in its first place', () => {
    const [a, b] = [rec(1), rec(2)];
    const list = new JobMembers<Rec>().add(a).add(b).add(a);
    expect(list.size).toBe(2);
    expect([...list]).toEqual([a, b]);
  });

  it('a record of another list is not deleted from this one', () => {
    const a = rec(1);
    const one = new JobMembers<Rec>().add(a);
    const other = new JobMembers<Rec>();
    expect(other.delete(a)).toBe(false);
    expect(other.has(a)).toBe(false);
    expect(one.has(a)).toBe(true);
    expect(one.size).toBe(1);
  });

  it('a loop over a copy (values) that deletes each member and the one after it visits every member present when it began, once', () => {
    const recs = Array.from({ length: 10 }, (_, i) => rec(i));
    const list = new JobMembers<Rec>();
    for (const x of recs) list.add(x);
    const seen: number[] = [];
    for (const x of list.values()) {
      seen.push(x.n);
      list.delete(x);
      if (x.n + 1 < recs.length) list.delete(recs[x.n + 1]);
      if (x.n === 4) list.add(rec(99)); // joins after the loop began: not visited by it
    }
    expect(seen).toEqual(recs.map((x) => x.n));
    expect([...list].map((x) => x.n)).toEqual([99]);
  });

  it('a loop over the list itself may delete the member it is at, and still visits every member', () => {
    const recs = Array.from({ length: 6 }, (_, i) => rec(i));
    const list = new JobMembers<Rec>();
    for (const x of recs) list.add(x);
    const seen: number[] = [];
    for (const x of list) {
      seen.push(x.n);
      if (x.n % 2 === 0) list.delete(x);
    }
    expect(seen).toEqual([0, 1, 2, 3, 4, 5]);
    expect([...list].map((x) => x.n)).toEqual([1, 3, 5]);
    expect(list.size).toBe(3);
  });

  it('a record that left holds no link to the others (a freed record keeps no other alive)', () => {
    const [a, b, c] = [rec(1), rec(2), rec(3)];
    const list = new JobMembers<Rec>().add(a).add(b).add(c);
    list.delete(b);
    expect([b.jobPrev, b.jobNext, b.jobList]).toEqual([null, null, null]);
    expect([...list]).toEqual([a, c]);
    expect(a.jobNext).toBe(c);
    expect(c.jobPrev).toBe(a);
    list.delete(a);
    list.delete(c);
    expect([a.jobNext, c.jobPrev]).toEqual([null, null]);
    list.add(b);
    expect([...list]).toEqual([b]);
  });
});
