// The CRI v1 services for grpc-js. The descriptors of proto/cri/api.proto are
// compiled to protobufjs JSON at build time (src/generated/cri-descriptor.ts), and
// only the two services are defined from them: parsing the .proto text and
// proto-loader's conversion of every message to a descriptor were most of the
// daemon's start. Messages convert exactly as proto-loader does with these options,
// which also shape the generated types in src/generated (scripts/gen-proto-types.js).
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type * as protoLoader from '@grpc/proto-loader';
import { Root, type IConversionOptions, type Type } from 'protobufjs/light';
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
const CRI_SERVICES = ['runtime.v1.RuntimeService', 'runtime.v1.ImageService'] as const;

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

let cached: ProtoGrpcType | undefined;

export function loadCriProto(): ProtoGrpcType {
  if (!cached) {
    const root = Root.fromJSON(CRI_DESCRIPTOR as Parameters<typeof Root.fromJSON>[0]);
    root.resolveAll();
    const definition: Record<string, grpc.ServiceDefinition> = {};
    for (const name of CRI_SERVICES) definition[name] = serviceDefinition(name, root);
    cached = grpc.loadPackageDefinition(definition) as unknown as ProtoGrpcType;
  }
  return cached;
}

/** What proto-loader makes of a service: one method definition per RPC. */
function serviceDefinition(name: string, root: Root): grpc.ServiceDefinition {
  const definition: Record<string, grpc.MethodDefinition<object, object>> = {};
  for (const method of root.lookupService(name).methodsArray) {
    const request = method.resolvedRequestType!;
    const response = method.resolvedResponseType!;
    definition[method.name] = {
      path: `/${name}/${method.name}`,
      requestStream: method.requestStream === true,
      responseStream: method.responseStream === true,
      requestSerialize: serializer(request),
      requestDeserialize: deserializer(request),
      responseSerialize: serializer(response),
      responseDeserialize: deserializer(response),
      originalName: method.name.charAt(0).toLowerCase() + method.name.slice(1),
    };
  }
  return definition;
}

function serializer(type: Type): (value: object) => Buffer {
  return (value) => {
    if (Array.isArray(value)) throw new Error(`Failed to serialize message: expected object with ${type.name} structure, got array instead`);
    // protobufjs writes into Buffers on Node.
    return type.encode(type.fromObject(value)).finish() as Buffer;
  };
}

function deserializer(type: Type): (bytes: Buffer) => object {
  return (bytes) => type.toObject(type.decode(bytes), CONVERSION_OPTIONS);
}

export type CriServiceName = 'RuntimeService' | 'ImageService';
