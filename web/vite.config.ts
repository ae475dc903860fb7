import { defineConfig } from 'vite';

// The build is committed (dist/) and embedded into the Go binary, so it must
// be reproducible: same sources and lockfile -> byte-identical output. Vite's
// file names are content hashes and nothing time- or path-dependent is
// emitted (no source maps, no build stamps).
export default defineConfig({
  // Vite 8 transforms TS/JSX with Oxc (its replacement for esbuild): the
  // automatic JSX runtime from Preact, no React.
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: false,
    target: 'es2020',
    // The polyfill would be inlined nowhere (CSP: script-src 'self'), but
    // every browser the app targets supports modulepreload anyway.
    modulePreload: { polyfill: false },
    reportCompressedSize: true,
  },
  server: {
    proxy: {
      '/api': { target: 'http://127.0.0.1:8080', ws: true, changeOrigin: false },
    },
  },
});
