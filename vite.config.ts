// Browser builds, into dist/browser (served under /lib/): the driver API
// (/lib/tabmesh.js, with its exports kept) and the pages. One entry a line:
// the volunteer page (issue 3) joins this list.
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/lib/',
  build: {
    outDir: 'dist/browser',
    emptyOutDir: true,
    sourcemap: true,
    target: 'es2022',
    rollupOptions: {
      input: {
        tabmesh: 'shared/index.ts',
        dashboard: 'client-web/dashboard/index.html', // served at /dashboard (issue 7)
      },
      preserveEntrySignatures: 'strict',
      output: {
        entryFileNames: (chunk) => (chunk.name === 'tabmesh' ? 'tabmesh.js' : 'assets/[name]-[hash].js'),
      },
    },
  },
});
