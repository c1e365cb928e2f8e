// Device rules -> a BPF_PROG_TYPE_CGROUP_DEVICE program (what the v1 devices
// controller did, for cgroup v2). Rules are checked last to first and the first match
// decides, which is what a v1 list "deny a; allow X; allow Y" means; no match denies.
// Context: struct bpf_cgroup_dev_ctx { u32 access_type (access << 16 | type); u32 major; u32 minor; }.
import type { OciDeviceCgroup } from '../../common/oci-spec';

const DEV_BLOCK = 1;
const DEV_CHAR = 2;
const ACC_MKNOD = 1;
const ACC_READ = 2;
const ACC_WRITE = 4;

function insn(code: number, dst: number, src: number, off: number, imm: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt8(code, 0);
  b.writeUInt8((src << 4) | dst, 1);
  b.writeInt16LE(off, 2);
  b.writeInt32LE(imm, 4);
  return b;
}

const LDX_W = 0x61; // r_dst = *(u32 *)(r_src + off)
const AND64_K = 0x57;
const RSH64_K = 0x77;
const MOV64_X = 0xbf;
const MOV64_K = 0xb7;
const JNE_K = 0x55;
const EXIT = 0x95;

function accessMask(access: string | undefined): number {
  const a = access && access !== '' ? access : 'rwm';
  let mask = 0;
  for (const ch of a) {
    if (ch === 'r') mask |= ACC_READ;
    else if (ch === 'w') mask |= ACC_WRITE;
    else if (ch === 'm') mask |= ACC_MKNOD;
    else throw new Error(`linux.resources.devices: invalid access ${JSON.stringify(access)}`);
  }
  return mask;
}

/** The program's instructions, 8 bytes each. */
export function deviceFilterProgram(rules: readonly OciDeviceCgroup[]): Buffer {
  const out: Buffer[] = [
    insn(LDX_W, 2, 1, 0, 0), insn(AND64_K, 2, 0, 0, 0xffff), // r2 = type
    insn(LDX_W, 3, 1, 0, 0), insn(RSH64_K, 3, 0, 0, 16), // r3 = access
    insn(LDX_W, 4, 1, 4, 0), // r4 = major
    insn(LDX_W, 5, 1, 8, 0), // r5 = minor
  ];
  for (const rule of [...rules].reverse()) {
    const block: Buffer[] = [];
    // The config is not checked before here: its type may be any string.
    const type: string = rule.type || 'a';
    if (type !== 'a') {
      if (type !== 'c' && type !== 'b') throw new Error(`linux.resources.devices: invalid type ${JSON.stringify(rule.type)}`);
      block.push(insn(JNE_K, 2, 0, 0, type === 'c' ? DEV_CHAR : DEV_BLOCK));
    }
    const mask = accessMask(rule.access);
    if (mask !== (ACC_READ | ACC_WRITE | ACC_MKNOD)) {
      // Requested access must be a subset: (access & ~mask) == 0.
      block.push(insn(MOV64_X, 6, 3, 0, 0), insn(AND64_K, 6, 0, 0, ~mask & 0xffff), insn(JNE_K, 6, 0, 0, 0));
    }
    if (type !== 'a' && rule.major !== undefined && rule.major !== -1) block.push(insn(JNE_K, 4, 0, 0, rule.major));
    if (type !== 'a' && rule.minor !== undefined && rule.minor !== -1) block.push(insn(JNE_K, 5, 0, 0, rule.minor));
    // Every jump so far skips to the end of this block (past the two verdict instructions).
    const jumps = block.length;
    for (let i = 0; i < jumps; i++) {
      if (block[i]!.readUInt8(0) === JNE_K) block[i]!.writeInt16LE(jumps - i - 1 + 2, 2);
    }
    block.push(insn(MOV64_K, 0, 0, 0, rule.allow ? 1 : 0), insn(EXIT, 0, 0, 0, 0));
    out.push(...block);
    // An unconditional rule decides everything: code after it would be unreachable,
    // which the verifier rejects.
    if (jumps === 0) return Buffer.concat(out);
  }
  out.push(insn(MOV64_K, 0, 0, 0, 0), insn(EXIT, 0, 0, 0, 0));
  return Buffer.concat(out);
}
