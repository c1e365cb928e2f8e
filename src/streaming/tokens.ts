// The request cache between the Exec/Attach/PortForward RPCs and the streaming
// server (as the kubelet's cri-streaming requestCache): the RPC stores what was
// asked under a random token and returns a URL with it; the client then has one
// minute to connect, once.
import { randomBytes } from 'node:crypto';
import { errors } from '../common/errors';
import type { AttachRequest, ExecRequest, PortForwardRequest } from './backend';

export type StreamingRequest =
  | { kind: 'exec'; request: ExecRequest }
  | { kind: 'attach'; request: AttachRequest }
  | { kind: 'portforward'; request: PortForwardRequest };

export type StreamingKind = StreamingRequest['kind'];

export const DEFAULT_TOKEN_TTL_MS = 60_000;
export const DEFAULT_MAX_IN_FLIGHT = 1000;
/** 16 random bytes: 22 base64url characters (the kubelet uses 6 bytes). */
const TOKEN_BYTES = 16;

export interface RequestCacheOptions {
  ttlMs?: number;
  maxInFlight?: number;
  /** Clock, for tests. */
  now?: () => number;
}

interface Entry {
  request: StreamingRequest;
  expiresAt: number;
}

export class RequestCache {
  private readonly ttlMs: number;
  private readonly maxInFlight: number;
  private readonly now: () => number;
  // Insertion order is expiry order (constant TTL), so expired entries are at the front.
  private readonly entries = new Map<string, Entry>();

  constructor(options: RequestCacheOptions = {}) {
    this.ttlMs = options.ttlMs ?? DEFAULT_TOKEN_TTL_MS;
    this.maxInFlight = options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
    this.now = options.now ?? Date.now;
  }

  /** Stores a request; returns its token. Throws RESOURCE_EXHAUSTED when maxInFlight are pending. */
  insert(request: StreamingRequest): string {
    this.sweep();
    if (this.entries.size >= this.maxInFlight) {
      throw errors.resourceExhausted(
        `streaming: ${this.maxInFlight} ${request.kind} requests are already waiting for their client to connect; try again later`);
    }
    let token: string;
    do token = randomBytes(TOKEN_BYTES).toString('base64url');
    while (this.entries.has(token));
    this.entries.set(token, { request, expiresAt: this.now() + this.ttlMs });
    return token;
  }

  /** Takes a request out (single use). Undefined for an unknown, used or expired token. */
  consume(token: string): StreamingRequest | undefined {
    const entry = this.entries.get(token);
    if (!entry) return undefined;
    this.entries.delete(token);
    if (entry.expiresAt <= this.now()) return undefined;
    return entry.request;
  }

  get size(): number {
    this.sweep();
    return this.entries.size;
  }

  private sweep(): void {
    const now = this.now();
    for (const [token, entry] of this.entries) {
      if (entry.expiresAt > now) break;
      this.entries.delete(token);
    }
  }
}
