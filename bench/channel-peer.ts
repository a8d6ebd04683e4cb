// The page side of bench/channel.ts: one plain RTCPeerConnection with one data
// channel (no simple-peer), as a script that runs the same in a Chromium page
// and in Node over @roamhq/wrtc (`globalThis.RTCPeerConnection` set first).
// Non-trickle signalling (the whole SDP once gathering ends); the receiver
// asks for N bytes and times their arrival; the sender paces on a timer poll
// or on 'bufferedamountlow'.

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
