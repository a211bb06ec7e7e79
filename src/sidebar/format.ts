const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** Format a byte count like `3.5 GiB`. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes <= 0) {
    return '0 B';
  }
  const power = Math.min(Math.floor(Math.log2(bytes) / 10), UNITS.length - 1);
  const value = bytes / 2 ** (10 * power);
  const digits = power === 0 || value >= 100 ? 0 : 1;
  return `${value.toFixed(digits)} ${UNITS[power]}`;
}

/** Format seconds as a site would write them: `24 h`, `90 min`, `20 s`. */
export function formatDuration(seconds: number): string {
  for (const [unit, size] of [
    ['h', 3600],
    ['min', 60]
  ] as const) {
    if (seconds >= size) {
      return `${Number((seconds / size).toPrecision(3))} ${unit}`;
    }
  }
  return `${Number(seconds.toPrecision(3))} s`;
}
