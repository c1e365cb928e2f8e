// Settings pushed by the kubelet at run time (UpdateRuntimeConfig), persisted so a
// restarted cradled keeps them until the kubelet sends them again.
import * as fs from 'node:fs';
import { writeFileAtomic } from '../common/atomic-file';
import type { RuntimeSettingsStore } from '../cri-server/services';

interface Persisted {
  podCidr: string;
}

export class RuntimeSettingsFile implements RuntimeSettingsStore {
  private state: Persisted = { podCidr: '' };
  private readonly listeners: ((cidr: string) => void)[] = [];

  constructor(private readonly file: string) {}

  static load(file: string): RuntimeSettingsFile {
    const store = new RuntimeSettingsFile(file);
    try {
      const parsed = JSON.parse(fs.readFileSync(store.file, 'utf8')) as Partial<Persisted>;
      if (typeof parsed.podCidr === 'string') store.state.podCidr = parsed.podCidr;
    } catch {
      // Absent or unreadable: start empty; the kubelet sends it again on start.
    }
    return store;
  }

  podCidr(): string {
    return this.state.podCidr;
  }

  onPodCidrChange(listener: (cidr: string) => void): void {
    this.listeners.push(listener);
  }

  async setPodCidr(cidr: string): Promise<void> {
    this.state = { ...this.state, podCidr: cidr };
    await writeFileAtomic(this.file, JSON.stringify(this.state) + '\n', { mode: 0o600 });
    for (const listener of this.listeners) listener(cidr);
  }
}
