// Task console output as a driver prints it (issue 3): each line prefixed with
// its function and node. When many tasks print the same line, it is printed
// once, and what repeats within the window is summed up at its end
// ("[repeated 49x across 3 nodes]"), as Ray's log deduplication does.

export interface OutputLine {
  level: 'log' | 'warn' | 'error';
  text: string;
  /** The function that printed it. */
  fn: string;
  /** The node it ran on. */
  node: string;
}

export type Printer = (level: OutputLine['level'], line: string) => void;

interface Seen {
  line: OutputLine;
  repeats: number;
  nodes: Set<string>;
}

export const consolePrinter: Printer = (level, line) => {
  if (level === 'error') console.error(line);
  else if (level === 'warn') console.warn(line);
  else console.log(line);
};

export class OutputDeduper {
  private seen = new Map<string, Seen>();
  private timer: unknown = null;

  constructor(
    private readonly print: Printer = consolePrinter,
    readonly windowMs = 2000,
  ) {}

  push(m: OutputLine): void {
    const key = `${m.level}\u0000${m.fn}\u0000${m.text}`;
    const s = this.seen.get(key);
    if (s) {
      s.repeats++;
      s.nodes.add(m.node);
      return;
    }
    this.seen.set(key, { line: m, repeats: 0, nodes: new Set([m.node]) });
    this.print(m.level, `[${m.fn}@${m.node}] ${m.text}`);
    if (this.timer === null) {
      this.timer = setTimeout(() => this.flush(), this.windowMs);
      (this.timer as { unref?: () => void }).unref?.();
    }
  }

  /** Prints the summaries of the lines repeated in this window, and opens a new one. */
  flush(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const seen = this.seen;
    this.seen = new Map();
    for (const s of seen.values()) {
      if (s.repeats === 0) continue;
      const where = s.nodes.size === 1 ? `on ${[...s.nodes][0]}` : `across ${s.nodes.size} nodes`;
      this.print(s.line.level, `[${s.line.fn}] ${s.line.text} [repeated ${s.repeats}x ${where}]`);
    }
  }
}
