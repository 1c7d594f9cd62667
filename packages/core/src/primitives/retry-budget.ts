import { RollingWindow } from './rolling-window.js'

/** Options of a {@link RetryBudget}. */
export interface RetryBudgetOptions {
  /** Share of requests that may be retried, in [0, 1]. @default 0.2 */
  readonly percent?: number
  /** Retries per second always allowed, even with little traffic. @default 10 */
  readonly minPerSecond?: number
  /** How long a deposit stays usable, in ms (1 s to 60 s). @default 10_000 */
  readonly ttlMs?: number
}

/**
 * A token retry budget (Finagle `RetryBudget`, tower `TpsBudget`): every request deposits one token,
 * every retry withdraws `1 / percent`; deposits and withdrawals expire after `ttlMs`; a reserve of
 * `minPerSecond × ttl` retries is always there so a quiet client can still retry. Caps retries at
 * about `percent × requests + minPerSecond × seconds`, which stops retry storms when a backend fleet
 * is failing.
 *
 * @example
 * ```ts
 * const budget = new RetryBudget({ percent: 0.2, minPerSecond: 10 })
 * budget.deposit(clock.now())
 * if (budget.tryWithdraw(clock.now())) retry()
 * ```
 */
export class RetryBudget {
  readonly #window: RollingWindow
  readonly #cost: number
  readonly #deposit: number
  readonly #reserve: number

  constructor(options: RetryBudgetOptions = {}) {
    const percent = options.percent ?? 0.2
    const minPerSecond = options.minPerSecond ?? 10
    const ttlMs = options.ttlMs ?? 10_000
    this.#window = new RollingWindow(ttlMs, 10)
    // With percent 0 requests deposit nothing and only the reserve pays for retries.
    this.#cost = percent > 0 ? 1 / percent : 1
    this.#deposit = percent > 0 ? 1 : 0
    this.#reserve = minPerSecond * (ttlMs / 1000) * this.#cost
  }

  /** Records one request (not a retry) at time `now`. */
  deposit(now: number): void {
    if (this.#deposit !== 0) this.#window.add(this.#deposit, now)
  }

  /** Takes the tokens for one retry at time `now`; false when the budget is spent. */
  tryWithdraw(now: number): boolean {
    if (this.balance(now) < this.#cost) return false
    this.#window.add(-this.#cost, now)
    return true
  }

  /** Tokens available at `now`, in deposit units. */
  balance(now: number): number {
    return this.#reserve + this.#window.sum(now)
  }
}
