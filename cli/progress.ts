import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import type { ExecutionProgress } from '../core/execution/executor.ts';

/**
 * Progress on stderr: bars on a terminal, a line every 10 % otherwise (CI logs stay readable).
 * stdout is left for `--json` documents.
 */
export class RunProgress {
  private multi?: MultiBar;
  private bar?: SingleBar;
  private lastDecile = -1;

  constructor(private readonly label: string) {}

  start(total: number): void {
    if (process.stderr.isTTY) {
      this.multi = new MultiBar({ stream: process.stderr, format: ' {label} |{bar}| {value}/{total} steps · {failed} failed · {skipped} skipped · {last}', hideCursor: true, clearOnComplete: false }, Presets.shades_classic);
      this.bar = this.multi.create(total, 0, { label: this.label, failed: 0, skipped: 0, last: '' });
    } else {
      process.stderr.write(`${this.label}: ${total} steps\n`);
    }
  }

  update(p: ExecutionProgress): void {
    const done = p.succeeded + p.failed + p.skipped;
    if (this.bar) {
      this.bar.update(done, { failed: p.failed, skipped: p.skipped, last: p.last ? `${p.last.assetKey} ${p.last.partitionKey}` : '' });
    } else if (p.total > 0) {
      const decile = Math.floor((done / p.total) * 10);
      if (decile > this.lastDecile) {
        this.lastDecile = decile;
        process.stderr.write(`${this.label}: ${done}/${p.total} (${p.failed} failed, ${p.skipped} skipped)\n`);
      }
    }
  }

  stop(): void {
    this.multi?.stop();
  }
}
