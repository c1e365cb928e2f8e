// The shape of the configs this builder writes: an OciSpec in which the members the
// runtime-spec leaves optional but every built config has are required, so the
// builder's callers (CDI edits, tests) read them without checking. A config read back
// from disk is a plain OciSpec.
import type { OciCapabilities, OciLinux, OciMount, OciNamespace, OciProcess, OciSpec } from '../../common/oci-spec';

export interface BuiltProcess extends OciProcess {
  env: string[];
  capabilities: Required<OciCapabilities>;
}

export interface BuiltLinux extends OciLinux {
  namespaces: OciNamespace[];
}

export interface BuiltSpec extends OciSpec {
  process: BuiltProcess;
  mounts: OciMount[];
  linux: BuiltLinux;
}
