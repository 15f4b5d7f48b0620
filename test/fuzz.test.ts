import * as path from 'node:path';
import { REPO_ROOT } from './support/tree';

// `npm run fuzz` is the long run (thousands of inputs up to 256 KiB); this is its short version on the
// built lib/ (npm test builds first): a few dozen generated and mutated inputs per engine, and the inputs
// that hung or blew up before, each timed at two sizes.
const fuzz = require(path.join(REPO_ROOT, 'scripts', 'fuzz.js')) as {
  runFuzz(o: { runs: number; seed: number; maxBytes: number }): Record<string, { runs: number; worstNsPerByte: number; worstInput: string; maxBytes: number }>;
  runPathological(o: { scale: number }): { name: string; ms: number; coldMs: number; ratio: number }[];
};

/** Generous: linear engines measure 1 to 30 µs per byte here; a quadratic one passes 50 within 64 KiB. */
const BOUND_NS_PER_BYTE = 100_000;

describe('fuzzing the engines (fast-check, seeded)', () => {
  test('stack loader, policy engine, semver parser, markers/setters and check: no crash, bounded time per byte', () => {
    const results = fuzz.runFuzz({ runs: 40, seed: 14, maxBytes: 32 * 1024 });
    expect(Object.keys(results).sort()).toEqual(['check', 'markers', 'policy', 'semver', 'stack']);
    for (const [name, r] of Object.entries(results)) {
      expect({ name, runs: r.runs }).toEqual({ name, runs: 40 });
      expect({ name, worst: r.worstNsPerByte < BOUND_NS_PER_BYTE, input: r.worstInput }).toEqual({ name, worst: true, input: r.worstInput });
    }
    // The amplification reaches the size bound: large inputs were tried, not only small ones.
    expect(Math.max(...Object.values(results).map((r) => r.maxBytes))).toBeGreaterThan(16 * 1024);
  });

  test('the known pathological inputs finish fast and scale linearly (time(4n)/time(n) well under 16)', () => {
    const cases = fuzz.runPathological({ scale: 0.5 });
    expect(cases.length).toBeGreaterThanOrEqual(10);
    for (const c of cases) {
      expect({ name: c.name, slow: c.coldMs > 2000 || c.ms > 2000 }).toEqual({ name: c.name, slow: false });
      expect({ name: c.name, superlinear: c.ratio > 12 }).toEqual({ name: c.name, superlinear: false });
    }
  });
});
