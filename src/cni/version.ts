// CNI spec versions cradle speaks and how they compare.

/** Config versions cradle accepts (the Debian plugins speak up to 1.0.0). */
export const SUPPORTED_CNI_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;

/** Result versions cradle can parse (older plugins answering a newer list still work). */
export const PARSEABLE_RESULT_VERSIONS = ['0.1.0', '0.2.0', ...SUPPORTED_CNI_VERSIONS] as const;

export function isSupportedVersion(version: string): boolean {
  return (SUPPORTED_CNI_VERSIONS as readonly string[]).includes(version);
}

/** Numeric comparison of dotted versions: <0, 0, >0. Non-numeric parts count as 0. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((part) => Number.parseInt(part, 10) || 0);
  const pb = b.split('.').map((part) => Number.parseInt(part, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const diff = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return 0;
}

export function versionAtLeast(version: string, minimum: string): boolean {
  return compareVersions(version, minimum) >= 0;
}
