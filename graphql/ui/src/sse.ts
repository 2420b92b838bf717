/** A parser for `text/event-stream` (the GraphQL-over-SSE transport graphql-yoga serves). Pure. */

export interface SseEvent { event: string; data: string; id?: string }

/** Feed it decoded text chunks as they arrive; it returns the events completed by each chunk. */
export class SseParser {
  private buffer = '';
  private data: string[] = [];
  private event = '';
  private id: string | undefined;

  push(chunk: string): SseEvent[] {
    this.buffer += chunk;
    const out: SseEvent[] = [];
    // Lines end with \n, \r\n or \r; a trailing lone \r may be half of a \r\n, so wait for more.
    let m: RegExpExecArray | null;
    const re = /\r\n|\n|\r(?!$)/g;
    let start = 0;
    while ((m = re.exec(this.buffer))) {
      this.line(this.buffer.slice(start, m.index), out);
      start = m.index + m[0].length;
    }
    this.buffer = this.buffer.slice(start);
    return out;
  }

  private line(line: string, out: SseEvent[]): void {
    if (line === '') {
      if (this.data.length > 0) out.push({ event: this.event || 'message', data: this.data.join('\n'), ...(this.id !== undefined ? { id: this.id } : {}) });
      this.data = [];
      this.event = '';
      return;
    }
    if (line.startsWith(':')) return; // a comment (keep-alive ping)
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.event = value;
    else if (field === 'id') this.id = value;
  }
}
