// Kubernetes' channel framing over WebSocket (k8s.io/apimachinery wsstream):
// every message starts with its channel number, as a byte (binary protocols) or
// as the ASCII digit '0'+n followed by base64 data (base64 protocols).
import type { RawData, WebSocket } from 'ws';

export interface ChannelMessage {
  channel: number;
  data: Buffer;
}

export class ChannelCodec {
  constructor(readonly base64: boolean) {}

  encode(channel: number, data: Buffer): Buffer | string {
    if (this.base64) return String.fromCharCode(48 + channel) + data.toString('base64');
    const out = Buffer.allocUnsafe(data.length + 1);
    out[0] = channel;
    data.copy(out, 1);
    return out;
  }

  /** Undefined for an empty or undecodable message. */
  decode(raw: RawData, isBinary: boolean): ChannelMessage | undefined {
    const buf = Array.isArray(raw) ? Buffer.concat(raw) : Buffer.isBuffer(raw) ? raw : Buffer.from(raw);
    if (buf.length === 0) return undefined;
    if (this.base64) {
      if (isBinary) return undefined;
      const channel = buf[0]! - 48;
      if (channel < 0 || channel > 9) return undefined;
      return { channel, data: Buffer.from(buf.subarray(1).toString('latin1'), 'base64') };
    }
    return { channel: buf[0]!, data: buf.subarray(1) };
  }
}

/** Sends on a channel; calls back when written (or at once when the socket is gone). */
export function sendOnChannel(ws: WebSocket, codec: ChannelCodec, channel: number, data: Buffer, callback?: () => void): void {
  if (ws.readyState !== ws.OPEN) {
    callback?.();
    return;
  }
  ws.send(codec.encode(channel, data), () => callback?.());
}
