// Browser build of the driver API (dist/browser/tabmesh.js). The volunteer
// page and dashboard join this config as they land (issues 3 and 7).
import { defineConfig } from 'vite';

export default defineConfig({
  build: {
    outDir: 'dist/browser',
    emptyOutDir: true,
    sourcemap: true,
    target: 'es2022',
    lib: {
      entry: 'shared/index.ts',
      formats: ['es'],
      fileName: () => 'tabmesh.js',
    },
  },
});
