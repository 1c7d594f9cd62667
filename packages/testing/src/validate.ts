import { describeValue, InvalidOptionError } from '@fulcrum/core'

/** @internal The one option check of this package that core does not provide. */
export function checkTrue(path: string, value: unknown): void {
  if (value !== true) throw new InvalidOptionError(path, `expected true, got ${describeValue(value)}`)
}
