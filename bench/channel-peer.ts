// A plain data channel for bench/channel.ts and bench:objects' raw baseline:
// one RTCPeerConnection with one data channel (no simple-peer), as a script
// that runs the same in a Chromium page and in Node over @roamhq/wrtc
// (`globalThis.RTCPeerConnection` set first), and the bench's side of it.
// Non-trickle signalling (the whole SDP once gathering ends); the receiver
// asks for N bytes and times their arrival; the sender paces on a timer poll
// or on 'bufferedamountlow'.

import type { Page } from 'playwright-core';

/** How a sender waits on a full channel. */
export type Pacing = 'timer' | 'event';

export interface ChannelCase {
  /** Bytes per message. */
  msg: number;
  pacing: Pacing;
  ordered: boolean;
  /** The sender waits while the channel holds more than this. */
  highWater: number;
  /** bufferedAmountLowThreshold ('event' pacing goes on below it). */
  low: number;
  /** A video transceiver (no track) beside the channel: Chromium then asks a 256 KiB UDP receive buffer for the bundled transport. */
  video?: boolean;
}

/** Installs `window.__ch` (or `globalThis.__ch`): make/accept an offer, then send on request. */
export const peerScript = (name = '__ch'): string => `((name) => {
  const g = globalThis;
  const gathered = (pc) => new Promise((res) => {
    if (pc.iceGatheringState === 'complete') return res();
    pc.onicegatheringstatechange = () => { if (pc.iceGatheringState === 'complete') res(); };
    setTimeout(res, 3000);
  });
  const ch = g[name] = { pc: null, dc: null, got: 0, want: 0, done: null, cfg: null, missedLow: 0 };
  const wire = (dc) => {
    ch.dc = dc; dc.binaryType = 'arraybuffer';
    ch.open = new Promise((res) => { if (dc.readyState === 'open') res(); else dc.onopen = () => res(); });
    dc.onmessage = (e) => {
      const d = e.data;
      if (typeof d === 'string') { const m = JSON.parse(d); return ch.send(m.n, m.cfg); }
      const now = performance.now();
      if (ch.last !== null && now - ch.last >= 100) { ch.stalls++; ch.stalledMs += now - ch.last; }
      ch.last = now;
      ch.got += d.byteLength;
      if (ch.got >= ch.want && ch.done) { const f = ch.done; ch.done = null; f(performance.now()); }
    };
  };
  ch.offer = async (ordered, video) => {
    const pc = ch.pc = new g.RTCPeerConnection({ iceServers: [] });
    wire(pc.createDataChannel('bench', { ordered }));
    if (video) pc.addTransceiver('video', { direction: 'sendrecv' });
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    return JSON.stringify(pc.localDescription);
  };
  ch.answer = async (offer) => {
    const pc = ch.pc = new g.RTCPeerConnection({ iceServers: [] });
    pc.ondatachannel = (e) => wire(e.channel);
    await pc.setRemoteDescription(JSON.parse(offer));
    for (const t of pc.getTransceivers()) t.direction = 'sendrecv';
    await pc.setLocalDescription(await pc.createAnswer());
    await gathered(pc);
    return JSON.stringify(pc.localDescription);
  };
  ch.accept = async (answer) => { await ch.pc.setRemoteDescription(JSON.parse(answer)); };
  ch.rtt = async () => {
    let rtt = null;
    (await ch.pc.getStats()).forEach((r) => { if (r.type === 'candidate-pair' && r.nominated && r.currentRoundTripTime !== undefined) rtt = r.currentRoundTripTime * 1000; });
    return rtt;
  };
  ch.info = () => ({ missedLow: ch.missedLow, maxMessageSize: ch.pc.sctp ? ch.pc.sctp.maxMessageSize : null, visibility: g.document ? g.document.visibilityState : 'node' });
  ch.send = async (n, cfg) => {
    const dc = ch.dc; const buf = new Uint8Array(cfg.msg); let sent = 0;
    dc.bufferedAmountLowThreshold = cfg.low;
    let wake = null;
    dc.onbufferedamountlow = () => { if (wake) { const w = wake; wake = null; w(); } };
    while (sent < n) {
      while (dc.bufferedAmount > cfg.highWater) {
        if (cfg.pacing === 'timer') await new Promise((r) => setTimeout(r, 2));
        else {
          // A peer that never fires the event would hang here: after 1 s, go on and count it.
          const t = setTimeout(() => { if (wake) { const w = wake; wake = null; ch.missedLow++; w(); } }, 1000);
          await new Promise((r) => { wake = r; });
          clearTimeout(t);
        }
      }
      const k = Math.min(buf.length, n - sent);
      dc.send(k === buf.length ? buf : buf.subarray(0, k)); sent += k;
    }
  };
  ch.read = (n, cfg) => new Promise((resolve) => {
    ch.got = 0; ch.want = n; ch.last = null; ch.stalls = 0; ch.stalledMs = 0;
    const t = performance.now(); ch.done = (end) => resolve({ ms: end - t, stalls: ch.stalls, stalledMs: ch.stalledMs });
    ch.dc.send(JSON.stringify({ n, cfg }));
  });
})('${name}')`;

/** One end of a channel: a page, or this process over wrtc. */
export interface End {
  run(expr: string): Promise<unknown>;
}

export const pageEnd = (page: Page): End => ({ run: (expr) => page.evaluate(expr) });

export async function nodeEnd(): Promise<End> {
  const mod = (await import('@roamhq/wrtc')) as { default?: { RTCPeerConnection: unknown }; RTCPeerConnection?: unknown };
  (globalThis as Record<string, unknown>).RTCPeerConnection = (mod.default ?? mod).RTCPeerConnection;
  const run = (expr: string): Promise<unknown> => Promise.resolve((0, eval)(expr));
  return { run };
}

/** Connects `a` (offers) to `b`; returns what each side reports (SCTP max message size, visibility). */
export async function connectPair(a: End, b: End, ordered: boolean, video = false, ch = '__ch'): Promise<string> {
  for (const e of [a, b]) await e.run(peerScript(ch));
  const offer = (await a.run(`${ch}.offer(${ordered}, ${video})`)) as string;
  const answer = (await b.run(`${ch}.answer(${JSON.stringify(offer)})`)) as string;
  await a.run(`${ch}.accept(${JSON.stringify(answer)})`);
  await Promise.all([a.run(`${ch}.open`), b.run(`${ch}.open`)]);
  const [ia, ib] = (await Promise.all([a.run(`${ch}.info()`), b.run(`${ch}.info()`)])) as { maxMessageSize: number; visibility: string }[];
  return `sender ${ia.visibility}, reader ${ib.visibility}, max message ${ia.maxMessageSize}/${ib.maxMessageSize}`;
}
