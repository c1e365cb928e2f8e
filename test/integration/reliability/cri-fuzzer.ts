// A seeded, deterministic generator of CRI requests for every RPC, driven by the
// proto's descriptors (the @grpc/proto-loader package definition of
// proto/cri/api.proto): random messages, messages mutated from valid seeds, and
// byte-level mutations of encoded messages.
import * as protoLoader from '@grpc/proto-loader';
import { criProtoPath, PROTO_LOADER_OPTIONS } from '../../../src/cri-server/proto';

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
export class Rng {
  private s: number;
  constructor(seed: number) { this.s = seed >>> 0; }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number { return Math.floor(this.next() * n); }
  chance(p: number): boolean { return this.next() < p; }
  pick<T>(items: readonly T[]): T { return items[this.int(items.length)]!; }
}

interface FieldDescriptor {
  name: string;
  label: string;
  type: string;
  typeName: string;
}
interface MessageDescriptor {
  name: string;
  field: FieldDescriptor[];
  nestedType: MessageDescriptor[];
  enumType: { name: string; value: { name: string; number: number }[] }[];
  options: { mapEntry?: boolean } | null;
}

export interface FuzzMethod {
  service: 'RuntimeService' | 'ImageService';
  name: string;
  path: string;
  responseStream: boolean;
  requestType: MessageDescriptor;
  serialize: (value: object) => Buffer;
}

/** Values that have broken parsers and path handling before. */
export interface FuzzContext {
  /** Real ids (pods, containers, images) so some requests reach deep code. */
  ids: () => string[];
  /** Strings that must replace paths on the host (mount sources, log dirs, cgroup parents). */
  hostPath: (rng: Rng) => string;
  cgroupParent: string;
  images: string[];
  /** Also the inputs of known bugs (CRADLE_FUZZ_WILD=1): huge positive `timeout`s, 1 MiB strings. */
  wild?: boolean;
}

const NASTY_STRINGS = [
  '', '.', '..', '../../../../etc/passwd', '/', '//', '/etc/shadow', '\0', 'a\0b', ' ', '\n', '%s%n', '${PATH}', '$(id)',
  'ünïcödé-ß', '🦀', '\u202e', '-1', '0', '18446744073709551616', 'null', 'true', '{}', '[]', 'a'.repeat(256), 'x'.repeat(4097),
  'runtime.v1.RuntimeService', 'CONTAINER_RUNNING', 'SIGKILL', 'kernel.hostname', 'net.ipv4.ip_forward', 'unconfined', 'localhost/profile',
];
const NASTY_INTS = ['0', '1', '-1', '2', '63', '1024', '2147483647', '-2147483648', '4294967296', '9223372036854775807', '-9223372036854775808'];

/** Names of fields whose value is a host path or a host resource: always pointed into the test's own places. */
const HOST_PATH_FIELDS = new Set(['hostPath', 'logDirectory', 'logPath', 'location', 'localhostRef', 'localhostProfile', 'seccompProfilePath', 'apparmorProfile']);

export class CriFuzzer {
  readonly methods: FuzzMethod[];
  private readonly definition: protoLoader.PackageDefinition;

  constructor(private readonly rng: Rng, private readonly ctx: FuzzContext, exclude: ReadonlySet<string> = new Set()) {
    this.definition = protoLoader.loadSync(criProtoPath(), PROTO_LOADER_OPTIONS);
    this.methods = [];
    for (const service of ['RuntimeService', 'ImageService'] as const) {
      const svc = this.definition[`runtime.v1.${service}`] as protoLoader.ServiceDefinition;
      for (const [name, m] of Object.entries(svc)) {
        if (name !== m.originalName && name[0] !== name[0]!.toUpperCase()) continue;
        if (exclude.has(name)) continue;
        this.methods.push({
          service, name, path: m.path, responseStream: m.responseStream,
          requestType: (m.requestType as unknown as { type: MessageDescriptor }).type,
          serialize: m.requestSerialize as (value: object) => Buffer,
        });
      }
    }
  }

  /** One request: the method and the bytes to send. */
  next(): { method: FuzzMethod; bytes: Buffer; kind: string } {
    const method = this.rng.pick(this.methods);
    const kind = this.rng.pick(['random', 'random', 'sparse', 'bytes']);
    const value = this.message(method.requestType, [], kind === 'sparse' ? 0.2 : 0.6, 0);
    let bytes: Buffer;
    try {
      bytes = method.serialize(value);
    } catch {
      bytes = Buffer.alloc(0); // a value protobufjs refused: send an empty message
    }
    if (kind === 'bytes') bytes = this.mutateBytes(bytes);
    return { method, bytes, kind };
  }

  private resolveMessage(typeName: string, scope: MessageDescriptor[]): MessageDescriptor | undefined {
    for (let i = scope.length - 1; i >= 0; i--) {
      const nested = scope[i]!.nestedType.find((n) => n.name === typeName);
      if (nested) return nested;
    }
    const global = this.definition[`runtime.v1.${typeName}`] as { type?: MessageDescriptor } | undefined;
    return global?.type?.field ? global.type : undefined;
  }

  private resolveEnum(typeName: string, scope: MessageDescriptor[]): string[] {
    for (let i = scope.length - 1; i >= 0; i--) {
      const nested = scope[i]!.enumType.find((n) => n.name === typeName);
      if (nested) return nested.value.map((v) => v.name);
    }
    const global = this.definition[`runtime.v1.${typeName}`] as { type?: { value?: { name: string }[] } } | undefined;
    return global?.type?.value?.map((v) => v.name) ?? ['0'];
  }

  private message(desc: MessageDescriptor, scope: MessageDescriptor[], density: number, depth: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const inner = [...scope, desc];
    for (const field of desc.field) {
      // Missing nested messages and fields are part of the fuzz: each field may be absent.
      if (!this.rng.chance(depth > 4 ? density / 3 : density)) continue;
      if (field.type === 'TYPE_MESSAGE') {
        const sub = this.resolveMessage(field.typeName, inner);
        if (!sub) continue;
        if (sub.options?.mapEntry) {
          const map: Record<string, string> = {};
          for (let i = this.rng.int(4); i > 0; i--) map[this.str(field.name)] = this.str(field.name);
          out[field.name] = map;
        } else if (field.label === 'LABEL_REPEATED') {
          out[field.name] = Array.from({ length: this.rng.int(4) }, () => this.message(sub, inner, density, depth + 1));
        } else if (depth < 8) {
          out[field.name] = this.message(sub, inner, density, depth + 1);
        }
        continue;
      }
      const one = () => this.scalar(field, inner);
      out[field.name] = field.label === 'LABEL_REPEATED' ? Array.from({ length: this.rng.int(4) }, one) : one();
    }
    return out;
  }

  private scalar(field: FieldDescriptor, scope: MessageDescriptor[]): unknown {
    switch (field.type) {
      case 'TYPE_STRING': return this.str(field.name);
      case 'TYPE_BYTES': return Buffer.from(this.str(field.name));
      case 'TYPE_BOOL': return this.rng.chance(0.5);
      case 'TYPE_ENUM': {
        const names = this.resolveEnum(field.typeName, scope);
        // Unknown numeric values are legal on the wire in proto3.
        return this.rng.chance(0.15) ? this.rng.pick([-1, 99, 2147483647]) : this.rng.pick(names);
      }
      case 'TYPE_INT64': case 'TYPE_UINT64': case 'TYPE_SINT64': case 'TYPE_FIXED64': case 'TYPE_SFIXED64':
        // Huge positive timeouts crash cradled (ExecSync, see grpc-fuzz.test.ts); the todo test there covers them.
        if (field.name === 'timeout' && !this.ctx.wild) return this.rng.pick(['0', '1', '2', '-1', '-9223372036854775808']);
        return this.rng.pick(NASTY_INTS);
      case 'TYPE_DOUBLE': case 'TYPE_FLOAT':
        return this.rng.pick([0, -1, 1e308, Number.NaN, 0.5]);
      default:
        return Number(this.rng.pick(NASTY_INTS.slice(0, 8)));
    }
  }

  private str(fieldName: string): string {
    if (HOST_PATH_FIELDS.has(fieldName)) return this.ctx.hostPath(this.rng);
    if (fieldName === 'cgroupParent') return this.rng.chance(0.5) ? this.ctx.cgroupParent : `${this.ctx.cgroupParent}/${this.rng.pick(['..', 'a', '../..', 'x/y'])}`;
    if (fieldName === 'image' || fieldName === 'userSpecifiedImage') return this.rng.chance(0.6) ? this.rng.pick(this.ctx.images) : this.rng.pick(NASTY_STRINGS);
    const ids = this.ctx.ids();
    if (/id$/i.test(fieldName) && ids.length && this.rng.chance(0.5)) {
      const id = this.rng.pick(ids);
      return this.rng.chance(0.7) ? id : id.slice(0, 1 + this.rng.int(12));
    }
    // Huge: up to 1 MiB in wild mode; otherwise 8 KiB (a 1 MiB value echoed in an error breaks the connection, see grpc-fuzz.test.ts).
    if (this.rng.chance(0.01)) return 'h'.repeat(1 + this.rng.int(this.ctx.wild ? 1 << 20 : 8 << 10));
    if (this.rng.chance(0.6)) return this.rng.pick(NASTY_STRINGS);
    return `fz${this.rng.int(1000)}`;
  }

  private mutateBytes(bytes: Buffer): Buffer {
    const b = Buffer.from(bytes.length ? bytes : Buffer.from([0x0a, 0x00]));
    switch (this.rng.int(4)) {
      case 0: for (let i = 1 + this.rng.int(4); i > 0; i--) b[this.rng.int(b.length)] = this.rng.int(256); return b;
      case 1: return b.subarray(0, this.rng.int(b.length));
      case 2: return Buffer.from(Array.from({ length: 1 + this.rng.int(64) }, () => this.rng.int(256)));
      default: return Buffer.concat([b, Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f])]); // a length prefix far past the end
    }
  }
}
