// A driver's peer links (issue 4): large results fetched from their holders, its large puts served, result
// shortcuts taken (driver-shortcuts.ts) and, with `direct`, tasks pushed straight to leased nodes (driver-direct.ts).
import type { JobId, ObjectId } from '../ids.js';
import type { FunctionSource, Msg } from '../protocol/messages.js';
import { ObjectFetcher } from '../transfer/fetcher.js';
import { PeerLinks } from '../transfer/links.js';
import type { IceConfig, PeerFactory } from '../transfer/raw-peer.js';
import { DriverDirect } from './driver-direct.js';
import type { DriverShortcuts } from './driver-shortcuts.js';
import type { ObjectClient } from './object-client.js';

/** What the links reach of the driver (DriverCore). */
export interface PeerHost {
  readonly jobId: JobId | undefined;
  readonly ice: IceConfig | undefined;
  readonly ownLarge: ReadonlyMap<ObjectId, Uint8Array>;
  readonly shortcuts: DriverShortcuts;
  readonly objects: ObjectClient;
  readonly direct: DriverDirect | null;
  /** The functions registered, by id (their sources). */
  readonly resume: { readonly fns: ReadonlyMap<string, FunctionSource> };
  /** To the coordinator, in order. */
  send(m: Msg): void;
}

export function driverPeers(
  d: PeerHost,
  factory: PeerFactory,
  maxUploadMiBps: number | undefined,
  direct: boolean,
): { links: PeerLinks; direct: DriverDirect | null; fetcher: ObjectFetcher } {
  const links = new PeerLinks({
    maxUploadMiBps,
    factory,
    self: () => d.jobId ?? null,
    ice: () => d.ice,
    sendSignal: (peer, data) => d.send({ t: 'signal', peer, data }),
    lookup: (id) => Promise.resolve(d.ownLarge.get(id)),
    result: (peer, r) => d.shortcuts.onResult(peer, r),
    direct: (peer, x) => d.direct?.onLink(peer, x),
    linkClosed: (peer) => {
      d.direct?.linkClosed(peer);
      d.shortcuts.linkClosed();
    },
  });
  const dd = direct
    ? new DriverDirect(
        links,
        (id) => d.resume.fns.get(id),
        (id) => d.objects.awaits(id),
        (m) => d.send(m),
        (received) => d.objects.onReceipt(received),
      )
    : null;
  return { links, direct: dd, fetcher: new ObjectFetcher(d.objects, links, (m) => d.send(m)) };
}
