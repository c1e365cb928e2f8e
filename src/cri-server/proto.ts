// Loads the CRI v1 proto (proto/cri/api.proto) at start-up. The generated types in
// src/generated are shaped by exactly these loader options (see scripts/gen-proto-types.js).
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType } from '../generated/api';

export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

/** proto/cri/api.proto, found from the compiled file (dist/src/cri-server) or the source tree. */
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
    const definition = protoLoader.loadSync(criProtoPath(), PROTO_LOADER_OPTIONS);
    cached = grpc.loadPackageDefinition(definition) as unknown as ProtoGrpcType;
  }
  return cached;
}

export type CriServiceName = 'RuntimeService' | 'ImageService';
