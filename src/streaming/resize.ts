// Terminal resize events: Kubernetes clients send a JSON object per size change
// ({"Width":80,"Height":24}; Go decodes field names case-insensitively, and
// @kubernetes/client-node sends lowercase keys). On SPDY the objects arrive
// back to back on one byte stream; on WebSocket one per message.
import type { TerminalSize } from './backend';

/** An async queue of sizes; iteration ends when the session closes. Only the latest pending size matters. */
export class TerminalSizeQueue implements AsyncIterable<TerminalSize> {
  private pending: TerminalSize[] = [];
  private waiter: ((result: IteratorResult<TerminalSize>) => void) | undefined;
  private closed = false;

  push(size: TerminalSize): void {
    if (this.closed) return;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w({ value: size, done: false });
      return;
    }
    // Sizes superseded before anyone looked at them are useless; keep a short queue.
    this.pending.push(size);
    if (this.pending.length > 16) this.pending.shift();
  }

  close(): void {
    this.closed = true;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w({ value: undefined, done: true });
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<TerminalSize> {
    return {
      next: (): Promise<IteratorResult<TerminalSize>> => {
        const next = this.pending.shift();
        if (next) return Promise.resolve({ value: next, done: false });
        if (this.closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => { this.waiter = resolve; });
      },
      return: (): Promise<IteratorResult<TerminalSize>> => {
        this.close();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}

/** Parses one resize message; undefined when it is not a usable size. */
export function parseTerminalSize(text: string): TerminalSize | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  let width: unknown;
  let height: unknown;
  for (const [key, v] of Object.entries(value)) {
    if (key.toLowerCase() === 'width') width = v;
    else if (key.toLowerCase() === 'height') height = v;
  }
  const ok = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffff;
  if (!ok(width) || !ok(height)) return undefined;
  return { width, height };
}

/** Splits a byte stream of concatenated JSON objects into objects (as Go's json.Decoder reads it). */
export class JsonObjectSplitter {
  private buffer = '';
  private static readonly MAX = 64 * 1024;

  /** Returns the complete objects in chunk (plus earlier partial input); throws on garbage or overlong input. */
  push(chunk: string): string[] {
    this.buffer += chunk;
    const out: string[] = [];
    let depth = 0;
    let inString = false;
    let escaped = false;
    let start = -1;
    let consumed = 0;
    for (let i = 0; i < this.buffer.length; i++) {
      const c = this.buffer[i]!;
      if (inString) {
        if (escaped) escaped = false;
        else if (c === '\\') escaped = true;
        else if (c === '"') inString = false;
        continue;
      }
      if (c === '"') inString = true;
      else if (c === '{') {
        if (depth === 0) start = i;
        depth++;
      } else if (c === '}') {
        depth--;
        if (depth < 0) throw new Error('unbalanced "}" in resize stream');
        if (depth === 0) {
          out.push(this.buffer.slice(start, i + 1));
          consumed = i + 1;
        }
      } else if (depth === 0 && !/\s/.test(c)) {
        throw new Error(`unexpected ${JSON.stringify(c)} in resize stream`);
      }
    }
    this.buffer = this.buffer.slice(consumed);
    if (this.buffer.length > JsonObjectSplitter.MAX) throw new Error('resize message too long');
    return out;
  }
}
