/**
 * Runs one subject of the pick benchmark for a fixed number of ops and exits: the target of
 * callgrind.sh, which runs it with N ops and with 0 ops and divides the difference of the
 * instruction counts by N. Both runs do the same warm-up first, so that the difference is made of
 * JIT-optimised steady-state ops.
 *
 * Usage: one.ts <subject name> <backends> <ops> [warmup ops = 50000] [acquire|pick]
 */
import { makeCase, subjectByName } from './subjects.js'

const [name, sizeArg, opsArg, warmArg = '50000', form = 'acquire'] = process.argv.slice(2)
if (name === undefined || sizeArg === undefined || opsArg === undefined)
  throw new Error('usage: one.ts <subject name> <backends> <ops> [warmup ops] [acquire|pick]')
const subject = subjectByName(name)
if (subject === undefined) throw new Error(`unknown subject "${name}"`)
const c = makeCase(subject, Number(sizeArg))
if (typeof c === 'string') {
  console.log(`skipped: ${c}`)
  process.exit(2)
}
const loop = form === 'pick' ? c.pick : c.acquire
if (loop === undefined) throw new Error(`${name} has no ${form} form`)
let sum = 0 // int32, like the loops' checksums
const warm = Number(warmArg)
for (let done = 0; done < warm; done += 1000) sum = (sum + loop(Math.min(1000, warm - done))) | 0
const ops = Number(opsArg)
if (ops > 0) sum = (sum + loop(ops)) | 0
c.close()
console.log(`${name} n=${sizeArg} ${form}: ${ops} ops after ${warm} warm-up, checksum ${sum}`)
