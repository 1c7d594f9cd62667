/**
 * Bundling the Node targets with esbuild, so that each runs as plain `node <target>.mjs` (as
 * bench/tcp does with its proxy child): under `--import tsx` every child would carry tsx's module
 * loader thread in its RSS and CPU time, and the native peers carry nothing like it. Workspace
 * packages are bundled from their TypeScript sources (`@fulcrum/source` condition); the npm peers
 * (undici, fastify, reply-from, http-proxy) stay external and load from bench/node_modules exactly
 * as their users run them, which is why the bundles are written under bench/node_modules/.cache.
 */
import { mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildSync } from 'esbuild'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const OUT_DIR = fileURLToPath(new URL('../node_modules/.cache/fulcrum-bench-http/', import.meta.url))
const EXTERNAL = ['undici', 'fastify', '@fastify/*', 'http-proxy']

/** Bundles `entry` into `<name>.mjs`; returns its path, or the reason it could not be built. */
export function bundleChild(entry: string, name: string): { file: string } | { error: string } {
  mkdirSync(OUT_DIR, { recursive: true })
  const file = join(OUT_DIR, `${name}.mjs`)
  try {
    buildSync({
      entryPoints: [entry],
      absWorkingDir: ROOT,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      conditions: ['@fulcrum/source'],
      external: EXTERNAL,
      // CommonJS code that got bundled (none today) may require() Node's built-ins.
      banner: {
        js: "import { createRequire as __benchCreateRequire } from 'node:module'; const require = __benchCreateRequire(import.meta.url);",
      },
      outfile: file,
      logLevel: 'silent',
    })
    return { file }
  } catch (err) {
    const errors = (err as { errors?: { text: string }[] }).errors
    return { error: errors?.map((e) => e.text).join('; ') ?? (err as Error).message }
  }
}

/**
 * Where each line of a bundle comes from: esbuild opens each module's code with a `// path`
 * comment (relative to the repo root). Returns a lookup from a 1-based bundle line to that path.
 */
export function bundleSources(file: string): (line: number) => string | undefined {
  const starts: { line: number; path: string }[] = []
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((text, i) => {
      const m = /^\/\/ ([^\s]+\.(?:[cm]?[jt]s))$/.exec(text)
      if (m !== null) starts.push({ line: i + 1, path: m[1]! })
    })
  return (line) => {
    let found: string | undefined
    for (const s of starts) {
      if (s.line > line) break
      found = s.path
    }
    return found
  }
}
