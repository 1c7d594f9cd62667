/**
 * @internal True when `name` is a valid DNS host name as RFC 6066 allows in `server_name`: 1–253
 * bytes; dot-separated labels of 1–63 letters, digits and hyphens, not starting or ending with a
 * hyphen; no trailing dot; the last label not all digits (so IPv4 literals are refused, and IPv6
 * literals fail on `:`). Upper case is accepted (callers lower-case). Internationalised names must
 * be in their ASCII (`xn--`) form.
 */
export function isValidHostName(name: string): boolean {
  const n = name.length
  if (n === 0 || n > 253) return false
  let labelStart = 0
  let allDigits = true
  for (let i = 0; i <= n; i++) {
    const c = i === n ? 0x2e : name.charCodeAt(i)
    if (c === 0x2e /* . */) {
      const len = i - labelStart
      if (len === 0 || len > 63) return false
      if (name.charCodeAt(labelStart) === 0x2d || name.charCodeAt(i - 1) === 0x2d) return false
      if (i === n) return !allDigits
      labelStart = i + 1
      allDigits = true
    } else if (c >= 0x30 && c <= 0x39) {
      // digit: keeps allDigits
    } else if ((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x2d) {
      allDigits = false
    } else {
      return false
    }
  }
  return false
}
