/**
 * How the client commands write: readable on a terminal (a spinner while waiting, aligned tables,
 * coloured statuses), plain lines through pipes, for grep, cut and while-read loops.
 */

export interface Terminal {
  out(text: string): void;
  err(text: string): void;
  /** stdout is a terminal: tables with headers, pretty JSON. */
  readonly outIsTTY: boolean;
  /** stderr is a terminal: a spinner while waiting. */
  readonly errIsTTY: boolean;
  /** Colours are wanted (a terminal, and NO_COLOR unset). */
  readonly color: boolean;
}

export interface Spinner {
  /** The words after the frame: `task 3f2a1b2c (echo) running`. */
  update(label: string): void;
  /** Clears the line; nothing is left behind. */
  stop(): void;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/** A spinner with the elapsed time on stderr; nothing at all unless stderr is a terminal. */
export function startSpinner(terminal: Terminal, label: string, now: () => number = Date.now): Spinner {
  if (!terminal.errIsTTY) return { update: () => undefined, stop: () => undefined };
  const started = now();
  let frame = 0;
  let current = label;
  const draw = (): void => {
    terminal.err(`\r\x1b[2K${FRAMES[frame % FRAMES.length]} ${current} ${formatSeconds((now() - started) / 1000)}`);
    frame += 1;
  };
  draw();
  const timer = setInterval(draw, 100);
  return {
    update(next) { current = next; },
    stop() { clearInterval(timer); terminal.err('\r\x1b[2K'); },
  };
}

/** 0.4s, 12.3s, 4m05s, 2h10m. */
export function formatSeconds(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(Math.floor(seconds % 60)).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

/** From start to end (or to now while it runs); '' before it started. */
export function duration(startedAt: string | null, finishedAt: string | null, now = Date.now()): string {
  if (startedAt === null) return '';
  return formatSeconds(((finishedAt === null ? now : Date.parse(finishedAt)) - Date.parse(startedAt)) / 1000);
}

const STATUS_COLORS: Readonly<Record<string, number>> = { succeeded: 32, failed: 31, cancelled: 33, running: 36, queued: 90, skipped: 90, pending: 90 };

export function paintStatus(terminal: Terminal, status: string): string {
  const code = STATUS_COLORS[status];
  return terminal.color && code !== undefined ? `\x1b[${code}m${status}\x1b[0m` : status;
}

/**
 * Rows under a header, columns padded to their widest cell, on a terminal; tab-separated rows with
 * no header otherwise. Cells may hold colour codes, which take no width.
 */
export function formatTable(terminal: Terminal, header: readonly string[], rows: readonly (readonly string[])[]): string {
  if (!terminal.outIsTTY) return rows.map((row) => `${row.join('\t')}\n`).join('');
  const visible = (cell: string): number => cell.replace(/\x1b\[[0-9;]*m/g, '').length;
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => visible(row[i] ?? ''))));
  const line = (cells: readonly string[]): string =>
    `${cells.map((cell, i) => (i === cells.length - 1 ? cell : cell + ' '.repeat(widths[i]! - visible(cell)))).join('  ')}\n`;
  return line(header) + rows.map(line).join('');
}

/** A JSON value for people (indented) or for pipes (one line); text output as it is. */
export function formatValue(terminal: Terminal, value: unknown): string {
  if (typeof value === 'string') return value.endsWith('\n') ? value : `${value}\n`;
  return `${JSON.stringify(value, null, terminal.outIsTTY ? 2 : undefined)}\n`;
}
