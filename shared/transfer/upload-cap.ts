// A node's cap on its upload (issue 17, session 14): a volunteer or a driver
// may keep object transfers to a share of its uplink (`connect({
// maxUploadMiBps })`, `tabmesh node --max-upload-mibps`). Shared by all its
// links: a chunk goes once the node's earlier chunks are paid for at the
// rate (a virtual clock, GCRA: no tokens to refill, no timer unless a sender
// waits). Its holders then are the limit, and say so (fan-out.ts).
import { TabmeshError } from '../errors.js';

/** A sender may run this far ahead of the rate (a burst after an idle spell). */
const BURST_MS = 20;

export class UploadCap {
  /** When the bytes sent so far are paid for at the rate. */
  private paidAt = 0;
  private rate = 0;

  constructor(mibPerS: number) {
    this.set(mibPerS);
  }

  get bytesPerMs(): number {
    return this.rate;
  }

  /** A new rate (the volunteer moved the setting): bytes already sent stay paid for at the old one. */
  set(mibPerS: number): void {
    if (!(Number.isFinite(mibPerS) && mibPerS > 0)) throw new TabmeshError('BAD_ARGUMENT', `an upload cap must be a positive number of MiB/s (got ${mibPerS})`);
    this.rate = (mibPerS * 1024 * 1024) / 1000;
  }

  /** How long a sender waits before it may send (ms; 0: now). */
  wait(now: number): number {
    return Math.max(0, this.paidAt - now);
  }

  /** `bytes` were sent at `now`. */
  spent(bytes: number, now: number): void {
    this.paidAt = Math.max(this.paidAt, now - BURST_MS) + bytes / this.rate;
  }
}

/** Checks a cap given from outside (an option, a flag): undefined (none) or a positive finite MiB/s. */
export function uploadCapOf(mibPerS: unknown): UploadCap | null {
  if (mibPerS === undefined) return null;
  if (typeof mibPerS !== 'number') throw new TabmeshError('BAD_ARGUMENT', `maxUploadMiBps must be a number (got ${typeof mibPerS})`);
  return new UploadCap(mibPerS);
}
