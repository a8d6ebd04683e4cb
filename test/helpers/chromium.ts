// Debian's Chromium as the tests start it: the executable and the flags this machine needs. No vitest import: the
// run's global setup (browser-server.ts) launches with these too.

export const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const CHROMIUM_LAUNCH = { executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_FLAGS };
