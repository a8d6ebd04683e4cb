// Browser builds, into dist/browser (served under /lib/): the driver API
// (/lib/tabmesh.js, with its exports kept) and the pages. One entry a line:
// the volunteer page (issue 3) joins this list.
import { build, defineConfig, type Plugin } from 'vite';

// Single-file classic scripts, each built on its own after the pages: the
// executor worker (served with a CSP that forbids script imports, so it can
// have none) and embed.js (a plain <script> on other sites). Issue 3.
const standalone = [
  { entry: 'client-web/node/executor-worker.ts', fileName: 'executor.js' }, // served at /executor.js
  { entry: 'client-web/embed/embed.ts', fileName: 'embed.js' }, // served at /embed.js
];

/**
 * Minified, but classes keep their names: tabmesh's errors take theirs from
 * the class (`new.target.name`), and a task's error travels by name (session
 * 29: an ObjectLostError thrown in a tab reached its driver as 'p').
 */
const keepNames = true;

function standaloneScripts(scripts: typeof standalone): Plugin {
  return {
    name: 'tabmesh-standalone-scripts',
    apply: 'build',
    async closeBundle() {
      for (const s of scripts) {
        await build({
          configFile: false,
          logLevel: 'warn',
          build: {
            outDir: 'dist/browser',
            emptyOutDir: false,
            sourcemap: true,
            target: 'es2022',
            lib: { entry: s.entry, formats: ['iife'], name: 'tabmesh', fileName: () => s.fileName },
            rollupOptions: { output: { keepNames } },
          },
        });
      }
    },
  };
}

/**
 * `vite` / `vite preview` serve the pages as the coordinator serves the
 * volunteer page (coordinator/http/static.ts): cross-origin isolated, so a
 * page tried there has SharedArrayBuffer as it will in production (issue 17).
 */
const isolated = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

export default defineConfig({
  base: '/lib/',
  plugins: [standaloneScripts(standalone)],
  server: { headers: isolated },
  preview: { headers: isolated },
  build: {
    outDir: 'dist/browser',
    emptyOutDir: true,
    sourcemap: true,
    target: 'es2022',
    rollupOptions: {
      input: {
        tabmesh: 'shared/index.ts',
        dashboard: 'client-web/dashboard/index.html', // served at /dashboard (issue 7)
        volunteer: 'client-web/volunteer/index.html', // served at / (issue 3)
        embedFrame: 'client-web/embed/frame.html', // the embed badge's iframe, /embed/frame.html (issue 3)
      },
      preserveEntrySignatures: 'strict',
      output: {
        keepNames,
        entryFileNames: (chunk) => (chunk.name === 'tabmesh' ? 'tabmesh.js' : 'assets/[name]-[hash].js'),
      },
    },
  },
});
