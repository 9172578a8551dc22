/**
 * MACs as 48-bit numbers in an ascending Float64Array (the agent's diff and its manifest reader both keep them so):
 * looked up by binary search, no Set of 100k entries.
 */
export function indexOfValue(sorted: Float64Array, value: number): number {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const x = sorted[mid]!;
    if (x === value) return mid;
    if (x < value) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}
