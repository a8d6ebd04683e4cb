// Debian's Chromium as the benches and the tests start it: the executable and the flags this machine needs. No
// playwright or vitest import: the tests' global setup (test/helpers/browser-server.ts) launches with these too.

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
