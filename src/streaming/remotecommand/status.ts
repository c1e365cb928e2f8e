// The exit status a remotecommand session ends with, as the kubelet reports it:
// protocol v4+ sends a metav1.Status JSON on the error stream (kubectl turns
// NonZeroExitCode/ExitCode into its own exit code); older protocols send only the
// text of a failure.

export type SessionOutcome =
  | { type: 'success' }
  | { type: 'exit'; exitCode: number; command: string[] }
  | { type: 'error'; message: string };

/** The subset of metav1.Status the clients read. */
export interface MetaV1Status {
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  code?: number;
  details?: { causes: { reason?: string; message: string }[] };
}

export function statusOf(outcome: SessionOutcome): MetaV1Status {
  switch (outcome.type) {
    case 'success':
      return { metadata: {}, status: 'Success' };
    case 'exit':
      return {
        metadata: {},
        status: 'Failure',
        message: `command terminated with non-zero exit code: error executing command ${JSON.stringify(outcome.command)}, exit code ${outcome.exitCode}`,
        reason: 'NonZeroExitCode',
        details: { causes: [{ reason: 'ExitCode', message: String(outcome.exitCode) }] },
      };
    case 'error':
      return {
        metadata: {},
        status: 'Failure',
        message: `Internal error occurred: ${outcome.message}`,
        reason: 'InternalError',
        code: 500,
        details: { causes: [{ message: outcome.message }] },
      };
  }
}

/**
 * The bytes to write on the error stream/channel, or undefined for nothing.
 * `structured`: the protocol carries a metav1.Status (v4 and later).
 */
export function statusBytes(outcome: SessionOutcome, structured: boolean): Buffer | undefined {
  if (structured) return Buffer.from(JSON.stringify(statusOf(outcome)));
  if (outcome.type === 'success') return undefined;
  return Buffer.from(statusOf(outcome).message ?? 'error');
}
