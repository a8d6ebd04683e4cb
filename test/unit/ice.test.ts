// Issue 17: the ICE servers a coordinator hands out. TURN credentials follow
// coturn's REST API (user "<expiry>:<peer>", password base64 HMAC-SHA1 of it
// under the shared secret); bad server specs are refused at start, naming them.
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { IceServers, parseIceServer } from '../../coordinator/signal/ice.js';
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
