/**
 * Progress lines written together: steps complete in bursts (a run of small revisions reports
 * thousands within a few milliseconds), and stdout and stderr are synchronous on a pipe or a
 * terminal, so a write per line would cost a system call per revision. Lines of one burst go out
 * in one write when the event loop next turns, so they still appear while the run goes on.
 */
export interface ProgressWriter {
  line(text: string): void;
  /** Writes what is pending now (before the command's own output, and before exit). */
  flush(): void;
}

export function coalescedLines(write: (text: string) => void): ProgressWriter {
  let pending = "";
  let scheduled: NodeJS.Immediate | undefined;
  const flush = () => {
    if (scheduled !== undefined) clearImmediate(scheduled);
    scheduled = undefined;
    if (pending === "") return;
    const text = pending;
    pending = "";
    write(text);
  };
  return {
    line(text) {
      pending += `${text}\n`;
      scheduled ??= setImmediate(flush);
    },
    flush,
  };
}
