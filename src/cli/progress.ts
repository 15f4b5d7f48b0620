/**
 * A progress line on stderr for long work: shown only when stderr is a terminal and the work has taken
 * more than a second, rewritten in place (`\r`, erase line), and erased when the work is done, so
 * nothing of it stays in a terminal's scrollback, a pipe or a log.
 */
export interface Progress {
  /** What is being done now (e.g. `rendering dev: 1200/6011 files`). */
  step(what: string): void;
  /** Erases the line (if one was shown). */
  done(): void;
}

const SHOW_AFTER_MS = 1000;
/** At most this often: a terminal redrawn per file would slow the work it reports. */
const REDRAW_MS = 100;

export function progress(stream: NodeJS.WriteStream = process.stderr, now = () => Date.now()): Progress {
  if (!stream.isTTY) return { step: () => undefined, done: () => undefined };
  const start = now();
  let shown = false;
  let last = 0;
  return {
    step(what) {
      const t = now();
      if (t - start < SHOW_AFTER_MS || t - last < REDRAW_MS) return;
      last = t;
      shown = true;
      const line = `tagflow: ${what} (${((t - start) / 1000).toFixed(1)}s)`;
      // Kept to one row of the terminal, so `\r` goes back to its start (a terminal of unknown width: as is).
      const width = stream.columns;
      stream.write(`\r\x1b[K${width && width > 20 ? line.slice(0, width - 1) : line}`);
    },
    done() {
      if (shown) stream.write('\r\x1b[K');
      shown = false;
    },
  };
}

/** Runs `f` with a progress line (see `progress`), erased when it returns or throws. */
export function withProgress<T>(f: (step: (what: string) => void) => T): T {
  const bar = progress();
  try {
    return f(bar.step);
  } finally {
    bar.done();
  }
}
