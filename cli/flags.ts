// Command-line mistakes as one line (issue 11): the flag or command at fault,
// the closest one that exists, and where the full usage is. The usage itself
// is printed only when asked for (`--help`) or when no command is given.
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A mistake in the command line: printed as one line, exit code 2. `cmd` says whose `--help` to point to. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly cmd?: string,
  ) {
    super(message);
  }
}

/** What people type for a flag that has another name here, where spelling distance would not find it. */
const ALIASES: Record<string, string[]> = {
  coordinator: ['url', 'address', 'server', 'host', 'coordinator-url', 'endpoint'],
  cpus: ['cpu', 'cores', 'workers', 'num-cpus'],
  'timeout-ms': ['timeout'],
  'join-token': ['join'],
  data: ['dir', 'data-dir', 'folder'],
};

/** Edit distance (insert, delete, replace), for the suggestion. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length];
}

/** The known name closest to `given` (both without dashes), if one is close enough to be what was meant. */
export function closest(given: string, known: readonly string[]): string | undefined {
  const g = given.toLowerCase();
  const alias = known.find((k) => ALIASES[k]?.includes(g));
  if (alias) return alias;
  const prefixed = known.filter((k) => k.startsWith(g) || g.startsWith(k));
  if (prefixed.length === 1) return prefixed[0];
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = distance(g, k);
    if (d < bestD) [best, bestD] = [k, d];
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(Math.max(g.length, best.length) / 3)) ? best : undefined;
}

/** Where the whole usage of `cmd` is. */
export function helpHint(cmd?: string): string {
  return cmd ? `\`tabmesh ${cmd} --help\` lists its flags` : '`tabmesh --help` lists the commands';
}

/** parseArgs for subcommand `cmd`, its complaints made into one actionable UsageError. */
export function parseFlags<T extends ParseArgsConfig>(cmd: string, config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (!err.code?.startsWith('ERR_PARSE_ARGS')) throw e;
    const known = Object.keys(config.options ?? {});
    const unknown = /^Unknown option '(-{1,2})([^'=]+)/.exec(err.message);
    if (unknown) {
      const near = closest(unknown[2], known);
      throw new UsageError(`unknown flag ${unknown[1]}${unknown[2]}${near ? `: did you mean --${near}?` : ''} (${helpHint(cmd)})`, cmd);
    }
    const missing = /^Option '(--?[^ ']+) <value>' argument missing/.exec(err.message);
    if (missing) throw new UsageError(`${missing[1]} needs a value, e.g. ${missing[1]} ${example(missing[1])} (${helpHint(cmd)})`, cmd);
    const noValue = /^Option '(--?[^ ']+)' does not take an argument/.exec(err.message);
    if (noValue) throw new UsageError(`${noValue[1]} is a switch and takes no value: write ${noValue[1]} alone (${helpHint(cmd)})`, cmd);
    const extra = /^Unexpected argument '([^']*)'/.exec(err.message);
    if (extra) throw new UsageError(`unexpected argument '${extra[1]}': \`tabmesh ${cmd}\` takes flags only (${helpHint(cmd)})`, cmd);
    throw new UsageError(`${err.message.split('\n')[0]} (${helpHint(cmd)})`, cmd);
  }
}

function example(flag: string): string {
  const name = flag.replace(/^-+/, '');
  if (name === 'coordinator') return 'http://127.0.0.1:8080';
  if (name === 'port') return '8080';
  if (name === 'token' || name === 'join-token') return 'T';
  return name === 'data' ? '.tabmesh' : 'VALUE';
}
