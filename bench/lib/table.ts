/** The result rows and their text and Markdown tables. */

export interface Row {
  readonly group: string;
  readonly name: string;
  readonly unit: string;
  /** rx-netstack's figure. */
  readonly value: number;
  /** The Linux kernel's figure in the same run, when there is one. */
  readonly kernel?: number;
  /** Higher is better: value / kernel, or kernel / value for latencies. */
  readonly ratio?: number;
  /** gVisor netstack's ratio to the kernel on this kind of machine (from issue 6). */
  readonly gvisorRatio?: number;
  /** A note (skipped, failed, pass/fail). */
  readonly note?: string;
}

export function formatValue(x: number | undefined): string {
  if (x === undefined || Number.isNaN(x)) return '-';
  if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString('en-US');
  if (Math.abs(x) >= 100) return x.toFixed(0);
  if (Math.abs(x) >= 10) return x.toFixed(1);
  if (Math.abs(x) >= 1) return x.toFixed(2);
  return x.toPrecision(3);
}

function cells(r: Row): string[] {
  const beat = r.ratio !== undefined && r.gvisorRatio !== undefined ? (r.ratio > r.gvisorRatio ? ' (beats)' : ' (below)') : '';
  return [
    r.group,
    r.name,
    formatValue(r.value),
    formatValue(r.kernel),
    r.ratio === undefined ? '-' : r.ratio.toFixed(3),
    r.gvisorRatio === undefined ? '-' : `${r.gvisorRatio.toFixed(3)}${beat}`,
    r.unit,
    r.note ?? '',
  ];
}

const HEADER = ['group', 'benchmark', 'rx-netstack', 'Linux', 'ratio', 'gVisor ratio', 'unit', 'note'];

export function textTable(rows: readonly Row[]): string {
  const all = [HEADER, ...rows.map(cells)];
  const widths = HEADER.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  const line = (r: string[]): string => r.map((c, i) => (i >= 2 && i <= 5 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(all[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...all.slice(1).map(line)].join('\n');
}

export function markdownTable(rows: readonly Row[]): string {
  const esc = (s: string): string => s.replace(/\|/g, '\\|');
  const head = `| ${HEADER.join(' | ')} |`;
  const sep = `|${HEADER.map((_, i) => (i >= 2 && i <= 5 ? '---:' : '---')).join('|')}|`;
  return [head, sep, ...rows.map((r) => `| ${cells(r).map(esc).join(' | ')} |`)].join('\n');
}
