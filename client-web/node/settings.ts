// A volunteer's choices: kept in localStorage across reloads; URL parameters
// (or an embed's data- attributes) override them for one page load.

export interface VolunteerSettings {
  /** Executors (Web Workers). */
  cpus: number;
  /** Fraction of the time executors may work, 0.1 to 1. Default 0.5: the page promises spare power, not the whole machine. */
  cpuShare: number;
  /** Memory budget of the object store, MB; above it objects go to IndexedDB. */
  memoryMb: number;
  /** Most IndexedDB space to use, MB (also bounded by the browser's quota). */
  diskMb: number;
  /**
   * Most bytes a second this tab uploads to other peers, MiB/s; 0: no cap (issue 17). A donor on a metered or slow
   * link keeps it low; readers then take what they need from other holders.
   */
  uploadMiBps: number;
  paused: boolean;
}

/** The upload setting's range (MiB/s): 0 (no cap), else at least MIN_UPLOAD_MIBPS. */
export const MIN_UPLOAD_MIBPS = 0.1;
export const MAX_UPLOAD_MIBPS = 10_000;

export const MAX_CPUS = Math.max(1, navigator.hardwareConcurrency || 2);

export function defaultSettings(): VolunteerSettings {
  const deviceGb = (navigator as { deviceMemory?: number }).deviceMemory ?? 4;
  return {
    cpus: Math.max(1, MAX_CPUS - 1),
    cpuShare: 0.5,
    memoryMb: Math.min(512, Math.max(64, deviceGb * 64)),
    diskMb: 2048,
    uploadMiBps: 0,
    paused: false,
  };
}

export function clampSettings(s: VolunteerSettings): VolunteerSettings {
  const num = (x: unknown, d: number) => (typeof x === 'number' && Number.isFinite(x) ? x : d);
  const d = defaultSettings();
  return {
    cpus: Math.round(Math.min(MAX_CPUS * 2, Math.max(1, num(s.cpus, d.cpus)))),
    cpuShare: Math.round(Math.min(1, Math.max(0.1, num(s.cpuShare, d.cpuShare))) * 100) / 100,
    memoryMb: Math.round(Math.min(16384, Math.max(1, num(s.memoryMb, d.memoryMb)))),
    diskMb: Math.round(Math.min(1 << 20, Math.max(0, num(s.diskMb, d.diskMb)))),
    uploadMiBps: clampUpload(num(s.uploadMiBps, d.uploadMiBps)),
    paused: s.paused === true,
  };
}

/** An upload cap as the page keeps it: 0 (none, also for anything not positive), else MIN..MAX MiB/s to 0.1. */
export function clampUpload(mibPerS: number): number {
  if (!(mibPerS > 0)) return 0;
  return Math.round(Math.min(MAX_UPLOAD_MIBPS, Math.max(MIN_UPLOAD_MIBPS, mibPerS)) * 10) / 10;
}

export function loadSettings(key: string, overrides: Record<string, string | undefined> = {}): VolunteerSettings {
  let saved: Partial<VolunteerSettings> = {};
  try {
    saved = JSON.parse(localStorage.getItem(key) ?? '{}') as Partial<VolunteerSettings>;
  } catch {
    /* none or unreadable */
  }
  const s = { ...defaultSettings(), ...saved };
  const o = overrides;
  if (o.cpus) s.cpus = Number(o.cpus);
  if (o.cpuShare) s.cpuShare = Number(o.cpuShare);
  if (o.memoryMb) s.memoryMb = Number(o.memoryMb);
  if (o.diskMb) s.diskMb = Number(o.diskMb);
  if (o.uploadMiBps) s.uploadMiBps = Number(o.uploadMiBps);
  if (o.paused) s.paused = o.paused === 'true' || o.paused === '1';
  return clampSettings(s);
}

export function saveSettings(key: string, s: VolunteerSettings): void {
  try {
    localStorage.setItem(key, JSON.stringify(s));
  } catch {
    /* storage disabled */
  }
}

/** URL search parameters as overrides (?cpus=2&cpuShare=0.5&memoryMb=8&uploadMiBps=2). */
export function urlOverrides(search = location.search): Record<string, string> {
  return Object.fromEntries(new URLSearchParams(search));
}
