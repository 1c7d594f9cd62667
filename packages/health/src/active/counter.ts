/**
 * The rise/fall counter of an active health check, with HAProxy's semantics (`src/check.c`): one
 * integer `health` in [0, rise + fall − 1]; the backend is UP iff `health >= rise`.
 *
 * - A failure decrements `health`, and drops it to 0 once it is below `rise`: `fall` consecutive
 *   failures bring a fully-up backend down, and a failure while rising resets the progress.
 * - A success increments `health`, and lifts it to `rise + fall − 1` (fully up) once it reaches
 *   `rise`: `rise` consecutive successes bring a down backend up.
 * - So an alternating pass/fail pattern moves neither a fully-up backend down (with `fall ≥ 3`) nor a
 *   down backend up (with `rise ≥ 2`).
 *
 * Initial states: `'up'` starts at `rise` (UP but unconfirmed, HAProxy `init-state up`: one failure
 * → DOWN, one success → fully up); `'down'` starts at `rise − 1` (HAProxy `init-state down`: DOWN,
 * and one success → fully up; one failure → fully down, then `rise` successes are needed).
 *
 * @example
 * ```ts
 * const c = new HealthCounter(2, 3, 'up')
 * c.success() // true: still up, now fully up (health 4)
 * c.failure(); c.failure() // false, false: health 3, then 2, still up
 * c.failure() // true: the verdict changed, `c.up` is now false
 * ```
 */
export class HealthCounter {
  /** Successes needed to come up. */
  readonly rise: number
  /** Failures needed to go down from fully up. */
  readonly fall: number
  /** The counter, in [0, rise + fall − 1]. */
  health: number
  /** Consecutive results of the same kind as the last one (for reasons such as `'3 consecutive failures'`). */
  streak = 0
  #lastOk: boolean | undefined

  constructor(rise: number, fall: number, initial: 'up' | 'down') {
    this.rise = rise
    this.fall = fall
    this.health = initial === 'up' ? rise : rise - 1
  }

  /** True when the backend is UP (`health >= rise`). */
  get up(): boolean {
    return this.health >= this.rise
  }

  /** Books a passed check; returns true when the verdict changed (down → up). */
  success(): boolean {
    this.#streak(true)
    const was = this.up
    this.health++
    if (this.health >= this.rise) this.health = this.rise + this.fall - 1
    return this.up !== was
  }

  /** Books a failed check; returns true when the verdict changed (up → down). */
  failure(): boolean {
    this.#streak(false)
    const was = this.up
    this.health--
    if (this.health < this.rise) this.health = 0
    return this.up !== was
  }

  /** Books a failure that marks the backend down at once, ignoring `fall` (fully down). */
  markDown(): boolean {
    this.#streak(false)
    const was = this.up
    this.health = 0
    return this.up !== was
  }

  #streak(ok: boolean): void {
    this.streak = this.#lastOk === ok ? this.streak + 1 : 1
    this.#lastOk = ok
  }
}
