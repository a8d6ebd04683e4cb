// Issue 17: the ICE servers a coordinator hands out. TURN credentials follow
// coturn's REST API (user "<expiry>:<peer>", password base64 HMAC-SHA1 of it
// under the shared secret); bad server specs are refused at start, naming them.
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { IceServers, parseIceServer } from '../../coordinator/signal/ice.js';
import { IceRefresh } from '../../coordinator/signal/ice-refresh.js';
import type { IceConfig } from '../../shared/transfer/raw-peer.js';
import { Cluster } from '../helpers/cluster.js';
import { iceFlags } from '../../cli/ice.js';
import { messageCheck } from '../../shared/protocol/messages.js';

const validateMessage = (m: unknown) => messageCheck(m, 'msg');

describe('ICE servers for peer links', () => {
  it('a TURN server without a user gets credentials from the secret that expire after the TTL; others pass as given', () => {
    const ice = new IceServers({
      servers: ['stun:stun.example:3478', 'turn:turn.example:3478', 'turn:alice:pw@turn2.example:3478?transport=tcp'],
      turnSecret: 'shared-secret',
      turnTtlS: 600,
    });
    const now = 1_700_000_000_000;
    const c = ice.for('ab12', now);
    expect(c.relayOnly).toBeUndefined();
    expect(c.iceServers[0]).toEqual({ urls: 'stun:stun.example:3478' });
    const user = `${now / 1000 + 600}:ab12`;
    expect(c.iceServers[1]).toEqual({
      urls: 'turn:turn.example:3478',
      username: user,
      credential: createHmac('sha1', 'shared-secret').update(user).digest('base64'),
    });
    expect(c.iceServers[2]).toEqual({ urls: 'turn:turn2.example:3478?transport=tcp', username: 'alice', credential: 'pw' });
    // Each peer its own user, so coturn's log and quotas tell them apart.
    expect(ice.for('cd34', now).iceServers[1].username).toBe(`${now / 1000 + 600}:cd34`);
  });

  it('bad specs are refused at start with BAD_ARGUMENT naming them', () => {
    expect(() => parseIceServer('http://x', false)).toThrow(/not an ICE server: 'http:\/\/x'/);
    expect(() => parseIceServer('stun:u:p@host:1', false)).toThrow(/STUN server takes no credentials/);
    expect(() => parseIceServer('turn:host:3478', false)).toThrow(/needs user:pass@ or a TURN secret/);
    expect(() => new IceServers({ servers: ['stun:host:1'], relayOnly: true })).toThrow(/need a TURN server/);
    expect(() => iceFlags({ 'ice-servers': 'turn:host:1', 'turn-secret': 'short' })).toThrow(/at least 8 characters/);
    expect(() => iceFlags({ 'ice-relay-only': true })).toThrow(/need --ice-servers/);
    expect(iceFlags({})).toBeUndefined();
    expect(iceFlags({ 'ice-servers': 'stun:a:1, turn:b:2', 'turn-secret': 'long-enough' })).toEqual({
      servers: ['stun:a:1', 'turn:b:2'],
      turnSecret: 'long-enough',
      relayOnly: undefined,
    });
  });

  it("a welcome's ICE servers are validated by the peer", () => {
    const welcome = { t: 'welcome', inlineMax: 1, heartbeatMs: 1 };
    expect(validateMessage({ ...welcome, ice: { iceServers: [{ urls: 'turn:h:1', username: 'u', credential: 'c' }], relayOnly: true } })).toBeNull();
    expect(validateMessage({ ...welcome, ice: { iceServers: [{ urls: 5 }] } })).toMatch(/urls/);
    expect(validateMessage({ ...welcome, ice: { iceServers: Array.from({ length: 9 }, () => ({ urls: 'stun:h:1' })) } })).toMatch(/ice/);
  });
});

describe('TURN credentials in a long session', () => {
  it('the coordinator sends fresh ICE servers every half lifetime; peers validate them and open new links with them', async () => {
    // A 2 s lifetime: fresh credentials every second.
    const cl = await Cluster.start({ nodes: 0, ice: { servers: ['stun:198.18.0.1:3478', 'turn:198.18.0.1:3478'], turnSecret: 'refresh-secret', turnTtlS: 2 } });
    try {
      const mesh = await cl.driver();
      const core = mesh.core as unknown as { ice: IceConfig | undefined; links: { o: { ice(): IceConfig | undefined } } | null };
      const expiry = () => Number(core.ice?.iceServers[1].username?.split(':')[0]);
      const first = expiry();
      expect(first).toBeGreaterThan(Date.now() / 1000);
      // Before the welcome's credential dies, a fresh one has come, with a later expiry.
      await cl.until(
        () => expiry() > first,
        1900,
        () => `no fresh credential (expiry still ${expiry()})`,
      );
      expect(expiry() - Date.now() / 1000).toBeGreaterThan(0.5);
      const turn = core.ice!.iceServers[1];
      expect(turn.credential).toBe(createHmac('sha1', 'refresh-secret').update(turn.username!).digest('base64'));
      expect(core.ice!.iceServers[0]).toEqual({ urls: 'stun:198.18.0.1:3478' });
      // A link opened from now on takes what the pool's ice() gives: the fresh servers.
      expect(core.links?.o.ice()).toEqual(core.ice);
      expect(cl.c.coordinator.iceRefresh!.sent).toBeGreaterThan(0);
    } finally {
      await cl.stop();
    }
  }, 30_000);

  it('only welcomed peers that take links get them; without expiring credentials nothing is sent', () => {
    const ice = new IceServers({ servers: ['turn:turn.example:3478'], turnSecret: 'shared-secret', turnTtlS: 600 });
    const sent: Array<[string, unknown]> = [];
    const session = (role: string, id: string | null, peerless = false) =>
      ({
        role,
        nodeId: role === 'node' ? id : null,
        jobId: role === 'driver' ? id : null,
        peerless,
        closed: false,
        send: (m: unknown) => sent.push([String(id), m]),
      }) as never;
    const r = new IceRefresh(ice, () => [session('node', 'n1'), session('driver', 'j1'), session('driver', 'j2', true), session('pending', null)]);
    r.refresh(1_700_000_000_000);
    expect(sent.map(([id]) => id)).toEqual(['n1', 'j1']);
    for (const [id, m] of sent) {
      expect(validateMessage(m)).toBeNull();
      expect((m as { ice: IceConfig }).ice.iceServers[0].username).toBe(`${1_700_000_000 + 600}:${id}`);
    }
    expect(validateMessage({ t: 'ice', ice: { iceServers: [{ urls: 7 }] } })).toMatch(/urls/);
    expect(new IceServers({ servers: ['stun:a:1', 'turn:u:p@b:2'] }).expires).toBe(false);
    expect(ice.expires).toBe(true);
  });
});
