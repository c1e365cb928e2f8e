// The one place where cradle's errors become gRPC statuses.
import * as grpc from '@grpc/grpc-js';
import { type ErrorKind, fromSystemError, isCradleError, messageOf } from '../common/errors';

const KIND_TO_STATUS: Record<ErrorKind, grpc.status> = {
  'invalid-argument': grpc.status.INVALID_ARGUMENT,
  'not-found': grpc.status.NOT_FOUND,
  'already-exists': grpc.status.ALREADY_EXISTS,
  'failed-precondition': grpc.status.FAILED_PRECONDITION,
  'resource-exhausted': grpc.status.RESOURCE_EXHAUSTED,
  'permission-denied': grpc.status.PERMISSION_DENIED,
  'deadline-exceeded': grpc.status.DEADLINE_EXCEEDED,
  unavailable: grpc.status.UNAVAILABLE,
  unimplemented: grpc.status.UNIMPLEMENTED,
  aborted: grpc.status.ABORTED,
  cancelled: grpc.status.CANCELLED,
  internal: grpc.status.INTERNAL,
};

export interface WireError {
  code: grpc.status;
  details: string;
  metadata: grpc.Metadata;
  /** Stable catalogue code, also sent as trailer metadata `cradle-error-code`. */
  errorCode: string;
}

/** Longest status message sent: huge input echoed back must not break the HTTP/2 stream. */
const MAX_DETAILS = 4096;

function capped(message: string): string {
  return message.length > MAX_DETAILS ? `${message.slice(0, MAX_DETAILS)}… (${message.length} characters)` : message;
}

export function toWireError(err: unknown): WireError {
  const metadata = new grpc.Metadata();
  if (isCradleError(err)) {
    metadata.set('cradle-error-code', err.code);
    return { code: KIND_TO_STATUS[err.kind], details: capped(err.message), metadata, errorCode: err.code };
  }
  const mapped = fromSystemError(err);
  metadata.set('cradle-error-code', mapped.code);
  return { code: KIND_TO_STATUS[mapped.kind], details: capped(messageOf(err)), metadata, errorCode: mapped.code };
}

export function statusName(code: grpc.status): string {
  return grpc.status[code] ?? String(code);
}

/** Client-caused failures log at warn, server faults at error. */
export function isClientError(code: grpc.status): boolean {
  return code === grpc.status.INVALID_ARGUMENT || code === grpc.status.NOT_FOUND
    || code === grpc.status.ALREADY_EXISTS || code === grpc.status.FAILED_PRECONDITION
    || code === grpc.status.UNIMPLEMENTED || code === grpc.status.CANCELLED
    || code === grpc.status.DEADLINE_EXCEEDED || code === grpc.status.PERMISSION_DENIED;
}
