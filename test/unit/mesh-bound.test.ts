// A merged state API page (issue 15) holds at most MAX_VIEW_ROWS rows of each
// coordinator: a page that reaches past them says so in X-Mesh-Bound instead of
// looking complete. White-box: a MeshView of a stand-in owner with no other
// coordinator, its provider holding more rows than the bound.
import { describe, expect, it } from 'vitest';
import type { FastifyReply } from 'fastify';
import type { Coordinator } from '../../coordinator/coordinator.js';
import { meshPage } from '../../coordinator/http/mesh-rows.js';
import { MAX_VIEW_ROWS, MeshView, provideView } from '../../coordinator/mesh/mesh-view.js';

function reply() {
  const headers = new Map<string, string>();
  return { headers, r: { header: (k: string, v: string) => headers.set(k, v) } as unknown as FastifyReply };
}

describe('merged pages past the bound', () => {
  it('say X-Mesh-Bound when a coordinator has more rows than it sends, and not before', async () => {
    const owner = {};
    const view = new MeshView(owner, 'me', { send: () => {}, others: () => [], totals: () => ({}), coordinators: () => [] });
    const size = MAX_VIEW_ROWS + 10;
    provideView(owner, 'nodes', (q) => ({ total: size, rows: Array.from({ length: Math.min(q.take, size) }, (_, i) => ({ id: `n${i}` })) }));
    const c = owner as unknown as Coordinator;
    try {
      const early = reply();
      const rows = (await meshPage(c, early.r, { offset: '100', limit: '50' }, { what: 'nodes' }))!;
      expect(rows.map((x) => x.id)).toEqual(Array.from({ length: 50 }, (_, i) => `n${100 + i}`));
      expect(early.headers.get('x-total-count')).toBe(String(size));
      expect(early.headers.has('x-mesh-bound')).toBe(false);
      const late = reply();
      const cut = (await meshPage(c, late.r, { offset: String(MAX_VIEW_ROWS - 5), limit: '100' }, { what: 'nodes' }))!;
      // Only the 5 rows under the bound come, though the total says 15 more exist.
      expect(cut).toHaveLength(5);
      expect(late.headers.get('x-mesh-bound')).toBe(String(MAX_VIEW_ROWS));
      expect(late.headers.get('x-total-count')).toBe(String(size));
    } finally {
      view.close();
    }
  });
});
