/// <reference types="vitest/config" />
// One Vite project per front end; the console lives in console/ and is served by the node at
// /console/ (hashed assets under /console/assets/, cached forever; index.html never cached).
import { fileURLToPath, URL } from 'node:url'
import vue from '@vitejs/plugin-vue'
import AutoImport from 'unplugin-auto-import/vite'
import { ElementPlusResolver } from 'unplugin-vue-components/resolvers'
import Components from 'unplugin-vue-components/vite'
import { defineConfig } from 'vite'

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url))

// The development server (`npx vite`) and `vite preview` send the API to a node: ZONGJI_NODE,
// default `make run`'s. The node itself serves the build at /console/ (and the e2e tests use it).
const node = process.env.ZONGJI_NODE ?? 'http://127.0.0.1:8080'
const proxy = { '/api': { target: node, changeOrigin: false } }

export default defineConfig({
  root: here('./console'),
  base: '/console/',
  publicDir: false,
  plugins: [
    vue(),
    // Element Plus on demand: only the components and styles a page uses reach the bundle.
    AutoImport({
      resolvers: [ElementPlusResolver()],
      dts: here('./console/auto-imports.d.ts'),
    }),
    Components({
      resolvers: [ElementPlusResolver()],
      dirs: [],
      dts: here('./console/components.d.ts'),
    }),
  ],
  resolve: {
    alias: {
      '@shared': here('./shared'),
      '@console': here('./console/src'),
    },
  },
  build: {
    outDir: here('./dist/console'),
    emptyOutDir: true,
    target: 'es2020',
    chunkSizeWarningLimit: 900,
    // No manual chunks: Rollup puts each library module with the pages that use it, so the
    // first page loads the shell's components only (the table and charts come with their pages).
  },
  server: { proxy },
  preview: { proxy },
  test: {
    root: here('.'),
    environment: 'jsdom',
    include: ['shared/**/*.test.ts', 'console/**/*.test.ts'],
  },
})
