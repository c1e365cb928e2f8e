// Stream protocol names as Kubernetes negotiates them (k8s.io/apimachinery
// httpstream and wsstream). Negotiation picks the client's first protocol the
// server supports.

/** remotecommand over SPDY, newest first (X-Stream-Protocol-Version). */
export const SPDY_REMOTECOMMAND_PROTOCOLS = ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'] as const;
/** port-forward over SPDY. */
export const SPDY_PORTFORWARD_PROTOCOLS = ['portforward.k8s.io'] as const;
/** remotecommand over WebSocket (Sec-WebSocket-Protocol). */
export const WS_REMOTECOMMAND_PROTOCOLS = [
  'v5.channel.k8s.io', 'v4.channel.k8s.io', 'v4.base64.channel.k8s.io', 'channel.k8s.io', 'base64.channel.k8s.io',
] as const;
/** port-forward over WebSocket; portforward.k8s.io is accepted as a binary alias. */
export const WS_PORTFORWARD_PROTOCOLS = ['v4.channel.k8s.io', 'v4.base64.channel.k8s.io', 'portforward.k8s.io'] as const;

/**
 * The client's first protocol the server supports; '' when the client offered
 * none (Kubernetes then falls back to its oldest protocol); undefined when no
 * offered protocol is supported.
 */
export function negotiateProtocol(offered: readonly string[], supported: readonly string[]): string | undefined {
  if (offered.length === 0) return '';
  return offered.find((p) => supported.includes(p));
}

/** Values of a possibly repeated, comma-separated request header. */
export function headerList(values: string[] | undefined): string[] {
  if (!values) return [];
  return values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v.length > 0);
}

/** remotecommand protocol version: 4 for v4.channel.k8s.io ... 1 for channel.k8s.io or none. */
export function remoteCommandVersion(protocol: string): number {
  const m = /^v(\d+)\./.exec(protocol);
  return m ? Number(m[1]) : 1;
}
