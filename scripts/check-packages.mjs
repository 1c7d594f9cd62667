// Checks the published shape of every package under packages/: publint (strict) and
// Are-the-types-wrong (ESM-only profile) on the packed tarball. Run after `pnpm build`.
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

const root = new URL('..', import.meta.url).pathname
const bin = (name) => join(root, 'node_modules', '.bin', name)
let failed = 0
for (const dir of readdirSync(join(root, 'packages'))) {
  const cwd = join(root, 'packages', dir)
  const pkg = JSON.parse(readFileSync(join(cwd, 'package.json'), 'utf8'))
  if (pkg.private) continue
  for (const [tool, args] of [
    ['publint', ['--strict']],
    ['attw', ['--pack', '.', '--profile', 'esm-only', '--format', 'table-flipped']],
  ]) {
    try {
      execFileSync(bin(tool), args, { cwd, stdio: 'pipe' })
      console.log(`ok   ${tool} ${pkg.name}`)
    } catch (err) {
      failed++
      console.log(`FAIL ${tool} ${pkg.name}\n${err.stdout ?? ''}${err.stderr ?? ''}`)
    }
  }
}
process.exit(failed === 0 ? 0 : 1)
