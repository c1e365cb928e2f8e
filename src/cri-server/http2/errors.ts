/** A header block cradle cannot decode: the connection is handed to the HTTP/2 layer unchanged. */
export class Http2HeaderError extends Error {
  override readonly name = 'Http2HeaderError';
}
