// A packet filter a test controls (issue 17): UDP to chosen ports on the
// loopback goes nowhere, so a WebRTC link between two processes freezes for
// real (its SCTP hears nothing back). Only inside the team's network namespace
// (scripts/in-netns.sh), where the test is root of its own network: an htb
// qdisc on lo whose one class sends 8 bits a second into a one-packet queue;
// traffic no filter picks bypasses it (htb's direct queue, no default class).
import { execFileSync } from 'node:child_process';

const tc = (...args: string[]) => execFileSync('tc', args, { stdio: ['ignore', 'ignore', 'pipe'] });

/** Whether this process may filter the loopback's packets (in the namespace, with tc). */
export function canBlackhole(): boolean {
  if (process.env.TABMESH_IN_NETNS !== '1') return false;
  try {
    tc('qdisc', 'show', 'dev', 'lo');
    return true;
  } catch {
    return false;
  }
}

/** Drops UDP (IPv4 and IPv6) sent to `ports` on the loopback until `remove()`. One at a time per namespace. */
export function blackholeUdp(ports: number[]): { remove(): void } {
  for (const port of ports) if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`not a UDP port: ${port}`);
  tc('qdisc', 'add', 'dev', 'lo', 'root', 'handle', '1:', 'htb', 'default', '0');
  try {
    tc('class', 'add', 'dev', 'lo', 'parent', '1:', 'classid', '1:2', 'htb', 'rate', '8bit', 'ceil', '8bit', 'burst', '1', 'cburst', '1', 'quantum', '1500');
    tc('qdisc', 'add', 'dev', 'lo', 'parent', '1:2', 'handle', '20:', 'pfifo', 'limit', '1');
    // One u32 filter a port and family into the slow class: IPv4 (`ip`) and IPv6 (`ip6`), UDP (protocol 17).
    for (const port of ports)
      for (const [proto, match, prio] of [
        ['ip', 'ip', '1'],
        ['ipv6', 'ip6', '2'],
      ] as const)
        tc(
          'filter',
          'add',
          'dev',
          'lo',
          'parent',
          '1:',
          'protocol',
          proto,
          'prio',
          prio,
          'u32',
          'match',
          match,
          'protocol',
          '17',
          '0xff',
          'match',
          match,
          'dport',
          String(port),
          '0xffff',
          'flowid',
          '1:2',
        );
  } catch (e) {
    tc('qdisc', 'del', 'dev', 'lo', 'root');
    throw e;
  }
  let removed = false;
  return {
    remove() {
      if (removed) return;
      removed = true;
      tc('qdisc', 'del', 'dev', 'lo', 'root');
    },
  };
}
