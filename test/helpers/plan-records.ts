// Reads a launch or exec plan (docs/launch-plan.md) back into records, checking the
// version and that every op is known with its number of arguments.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';

export function planRecords(file: string, version: string, arity: Record<string, number>): string[][] {
  const strings = fs.readFileSync(file, 'utf8').split('\0');
  assert.equal(strings.pop(), '', 'every string is NUL-terminated');
  assert.equal(strings.shift(), version);
  const out: string[][] = [];
  while (strings.length) {
    const op = strings.shift()!;
    assert.ok(op in arity, `known op ${op}`);
    out.push([op, ...strings.splice(0, arity[op]!)]);
  }
  return out;
}
