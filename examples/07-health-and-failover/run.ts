/**
 * Prints the comparison tables of example 07:
 * `pnpm --filter @fulcrum/example-07-health-and-failover start`.
 */
import { formatTable, INCIDENT, runAll, type ScenarioResult } from './scenarios.js'

/** The scenarios replayed with a longer outage, to show what happens when a timeout ends too early. */
export const LONGER_OUTAGE = { recoverAt: 45_000, keys: ['c', 'd', 'e', 'f1', 'g', 'i'] } as const

/** Runs every scenario and prints the tables; returns the results. */
export async function main(): Promise<{ incident: ScenarioResult[]; longer: ScenarioResult[] }> {
  const { backends, victim, rps, durationMs, dieAt, recoverAt, seed } = INCIDENT
  const incident = await runAll()
  console.log(
    `${backends.length} backends (${backends.join(', ')}), logNormal(10 ms, 0.3) latency, ${rps} rps open loop ` +
      `for ${durationMs / 1_000} s, seed ${seed}; ${victim} (in h: every backend) dies at ${dieAt / 1_000} s ` +
      `and recovers at ${recoverAt / 1_000} s\n`,
  )
  console.log(formatTable(incident))
  const longer = await runAll(LONGER_OUTAGE.keys, { recoverAt: LONGER_OUTAGE.recoverAt })
  console.log(`\nThe same, with ${victim} recovering at ${LONGER_OUTAGE.recoverAt / 1_000} s\n`)
  console.log(formatTable(longer))
  return { incident, longer }
}

if (import.meta.url === `file://${process.argv[1]}`)
  main().catch((err: unknown) => {
    console.error(err)
    process.exitCode = 1
  })
