// The CRI v1 services for grpc-js. The descriptors of proto/cri/api.proto are
// compiled to protobufjs JSON at build time (src/generated/cri-descriptor.ts), and
// only the two services are defined from them: parsing the .proto text and
// proto-loader's conversion of every message to a descriptor were most of the
// daemon's start. The method table is read from the JSON itself; protobufjs and the
// message types load with the first message (de)serialized, off the path to the
// daemon's socket. Messages convert exactly as proto-loader does with these options,
// which also shape the generated types in src/generated (scripts/gen-proto-types.js).
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type * as protoLoader from '@grpc/proto-loader';
import type { IConversionOptions, Root, Type } from 'protobufjs/light';
import type { ProtoGrpcType } from '../generated/api';
import { CRI_DESCRIPTOR } from '../generated/cri-descriptor';

export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

const CONVERSION_OPTIONS: IConversionOptions = { longs: String, enums: String, defaults: true, oneofs: true };
const CRI_SERVICES: readonly CriServiceName[] = ['RuntimeService', 'ImageService'];

/** proto/cri/api.proto (for tools that load the proto themselves), found from the compiled file (dist/src/cri-server) or the source tree. */
export function criProtoPath(): string {
  const candidates = [
    path.resolve(__dirname, '..', '..', '..', 'proto', 'cri', 'api.proto'),
    path.resolve(__dirname, '..', '..', 'proto', 'cri', 'api.proto'),
  ];
  for (const candidate of candidates) {
    try {
      require('node:fs').accessSync(candidate);
      return candidate;
    } catch { /* try the next */ }
  }
  throw new Error(`CRI proto not found (looked at ${candidates.join(', ')})`);
}

interface MethodJson {
  requestType: string;
  responseType: string;
  requestStream?: boolean;
  responseStream?: boolean;
}

let root: Root | undefined;

/** The message types, built from the descriptors on first use. */
function messageRoot(): Root {
  if (!root) {
    const { Root } = require('protobufjs/light') as typeof import('protobufjs/light');
    root = Root.fromJSON(CRI_DESCRIPTOR as Parameters<typeof Root.fromJSON>[0]);
  }
  return root;
}

/** Builds the message types now (after the socket is up) rather than in the first call. */
export function prepareMessageTypes(): void {
  messageRoot();
}

/** What proto-loader makes of a service: one method definition per RPC, its message types resolved on first use. */
export function criServiceDefinition(service: CriServiceName): grpc.ServiceDefinition {
  const pkg = (CRI_DESCRIPTOR as { nested: { runtime: { nested: { v1: { nested: Record<string, { methods: Record<string, MethodJson> }> } } } } }).nested.runtime.nested.v1;
  const definition: Record<string, grpc.MethodDefinition<object, object>> = {};
  for (const [name, method] of Object.entries(pkg.nested[service]!.methods)) {
    const request = lazyType(method.requestType);
    const response = lazyType(method.responseType);
    definition[name] = {
      path: `/runtime.v1.${service}/${name}`,
      requestStream: method.requestStream === true,
      responseStream: method.responseStream === true,
      requestSerialize: serializer(request),
      requestDeserialize: deserializer(request),
      responseSerialize: serializer(response),
      responseDeserialize: deserializer(response),
      originalName: name.charAt(0).toLowerCase() + name.slice(1),
    };
  }
  return definition;
}

let cached: ProtoGrpcType | undefined;

/** Both services with grpc-js client constructors (for clients: the server needs only criServiceDefinition). */
export function loadCriProto(): ProtoGrpcType {
  if (!cached) {
    const definition: Record<string, grpc.ServiceDefinition> = {};
    for (const name of CRI_SERVICES) definition[`runtime.v1.${name}`] = criServiceDefinition(name);
    cached = grpc.loadPackageDefinition(definition) as unknown as ProtoGrpcType;
  }
  return cached;
}

function lazyType(name: string): () => Type {
  let type: Type | undefined;
  return () => (type ??= messageRoot().lookupType(`runtime.v1.${name}`));
}

function serializer(type: () => Type): (value: object) => Buffer {
  return (value) => {
    if (Array.isArray(value)) throw new Error(`Failed to serialize message: expected object with ${type().name} structure, got array instead`);
    // protobufjs writes into Buffers on Node.
    return type().encode(type().fromObject(value)).finish() as Buffer;
  };
}

function deserializer(type: () => Type): (bytes: Buffer) => object {
  return (bytes) => type().toObject(type().decode(bytes), CONVERSION_OPTIONS);
}

export type CriServiceName = 'RuntimeService' | 'ImageService';
