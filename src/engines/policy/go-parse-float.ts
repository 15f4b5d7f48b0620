/**
 * Go's `strconv.ParseFloat(s, 64)`, which Flux's numerical policy applies to every candidate: one
 * candidate it rejects fails the whole policy. JavaScript's Number() differs: it accepts '', ' 1 ', '0x10'
 * and '0b1', and rejects '1_000', 'Inf', 'infinity' and hexadecimal floats such as '0x1p4'.
 */
export class ParseFloatError extends Error {}

/** Go's underscoreOK: '_' only between digits, or between a base prefix and a digit. */
function underscoreOK(str: string): boolean {
  let s = str;
  let saw = '^';
  let i = 0;
  if (s.length >= 1 && (s[0] === '-' || s[0] === '+')) s = s.slice(1);
  let hex = false;
  if (s.length >= 2 && s[0] === '0' && 'box'.includes(s[1].toLowerCase())) {
    i = 2;
    saw = '0';
    hex = s[1].toLowerCase() === 'x';
  }
  for (; i < s.length; i++) {
    const c = s[i];
    const lc = c.toLowerCase();
    if ((c >= '0' && c <= '9') || (hex && lc >= 'a' && lc <= 'f')) {
      saw = '0';
      continue;
    }
    if (c === '_') {
      if (saw !== '0') return false;
      saw = '_';
      continue;
    }
    if (saw === '_') return false;
    saw = '!';
  }
  return saw !== '_';
}

const DECIMAL = /^[+-]?(?:[0-9_]+(?:\.[0-9_]*)?|\.[0-9_]+)(?:[eE][+-]?[0-9_]+)?$/;
const HEX = /^([+-]?)0[xX]((?:[0-9a-fA-F_]+(?:\.[0-9a-fA-F_]*)?|\.[0-9a-fA-F_]+))[pP]([+-]?[0-9_]+)$/;

function special(s: string): number | undefined {
  const m = /^([+-]?)(inf|infinity)$/i.exec(s);
  if (m) return m[1] === '-' ? -Infinity : Infinity;
  if (/^nan$/i.test(s)) return NaN;
  return undefined;
}

/** Parses like Go's ParseFloat(s, 64); throws ParseFloatError where Go returns an error. */
export function goParseFloat(s: string): number {
  const sp = special(s);
  if (sp !== undefined) return sp;
  let value: number;
  const hex = HEX.exec(s);
  if (hex) {
    if (!underscoreOK(s)) throw new ParseFloatError(`strconv.ParseFloat: parsing "${s}": invalid syntax`);
    const [intPart, fracPart = ''] = hex[2].replace(/_/g, '').split('.');
    let mantissa = 0;
    for (const c of intPart + fracPart) mantissa = mantissa * 16 + parseInt(c, 16);
    const exp = Number(hex[3].replace(/_/g, '')) - 4 * fracPart.length;
    value = (hex[1] === '-' ? -1 : 1) * mantissa * Math.pow(2, exp);
  } else {
    if (!DECIMAL.test(s) || !/[0-9]/.test(s.split(/[eE]/)[0]) || !underscoreOK(s)) {
      throw new ParseFloatError(`strconv.ParseFloat: parsing "${s}": invalid syntax`);
    }
    value = Number(s.replace(/_/g, ''));
    if (Number.isNaN(value)) throw new ParseFloatError(`strconv.ParseFloat: parsing "${s}": invalid syntax`);
  }
  if (!Number.isFinite(value)) throw new ParseFloatError(`strconv.ParseFloat: parsing "${s}": value out of range`);
  return value;
}
