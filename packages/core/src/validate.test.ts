import { describe, expect, it } from 'vitest'
import { InvalidOptionError } from './errors.js'
import { checkKeys, checkNumber, checkString, describeValue } from './validate.js'

describe('validate', () => {
  it('checks numbers, with limits', () => {
    expect(checkNumber('x', 5, { min: 0, max: 10, integer: true })).toBe(5)
    expect(() => checkNumber('x', '5')).toThrow(InvalidOptionError)
    expect(() => checkNumber('x', Number.NaN)).toThrow(/expected a number/)
    expect(() => checkNumber('x', Number.POSITIVE_INFINITY)).toThrow(/finite/)
    expect(checkNumber('x', Number.POSITIVE_INFINITY, { infinite: true })).toBe(Number.POSITIVE_INFINITY)
    expect(() => checkNumber('x', 0, { min: 0, minExclusive: true })).toThrow(/> 0/)
    expect(() => checkNumber('x', 1.5, { integer: true })).toThrow(/integer/)
    expect(() => checkNumber('x', 11, { max: 10 })).toThrow(/≤ 10/)
  })

  it('names unknown keys and describes values', () => {
    expect(() => checkKeys('load', { qps: 1 }, ['rps'])).toThrow(/Invalid option load\.qps/)
    expect(() => checkKeys('', { nope: 1 }, ['rps'])).toThrow(/Invalid option nope/)
    expect(() => checkString('id', '')).toThrow(/non-empty/)
    expect(describeValue('a')).toBe('"a"')
    expect(describeValue([])).toBe('an array')
    expect(describeValue(null)).toBe('null')
    expect(describeValue(() => 1)).toBe('a function')
  })
})
