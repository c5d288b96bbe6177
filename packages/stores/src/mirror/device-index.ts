import type { DeviceEntry } from "../devices.js";

/**
 * One user's devices, sorted by device id, as two parallel arrays. Never mutated once built: a change
 * replaces both arrays, so readers may hand them out without copying.
 */
interface Devices<V> {
  readonly entries: readonly DeviceEntry[];
  readonly views: readonly V[];
}

const none: readonly never[] = Object.freeze([]);

/**
 * The mirror's current state: every entry by user (each with its view, built once when the entry is
 * applied), and how many entries each lease holds.
 */
export class DeviceIndex<V> {
  readonly #users = new Map<string, Devices<V>>();
  readonly #leaseEntries = new Map<bigint, number>();
  #size = 0;

  constructor(private readonly view: (entry: DeviceEntry) => V) {}

  get size(): number {
    return this.#size;
  }

  reset(entries: readonly DeviceEntry[]): void {
    this.#users.clear();
    this.#leaseEntries.clear();
    this.#size = 0;
    for (const entry of entries) this.put(entry);
  }

  hasLease(leaseId: bigint): boolean {
    return (this.#leaseEntries.get(leaseId) ?? 0) > 0;
  }

  /** The users' entries, each user once, in no particular order. */
  entriesOf(userIds: Iterable<string>): DeviceEntry[] {
    const entries: DeviceEntry[] = [];
    for (const userId of new Set(userIds)) {
      const devices = this.#users.get(userId);
      if (devices) for (const entry of devices.entries) entries.push(entry);
    }
    return entries;
  }

  /**
   * The users' views sorted by user, then device (UTF-16 code unit order), each user once. For one
   * user, the index's own read-only array: nothing is built or copied per call.
   */
  viewsOf(userIds: readonly string[]): readonly V[] {
    if (userIds.length === 1) return this.#users.get(userIds[0]!)?.views ?? none;
    const views: V[] = [];
    for (const userId of [...new Set(userIds)].sort()) {
      const devices = this.#users.get(userId);
      if (devices) for (const view of devices.views) views.push(view);
    }
    return views;
  }

  all(): DeviceEntry[] {
    return [...this.#users.values()].flatMap((devices) => [...devices.entries]);
  }

  put(entry: DeviceEntry): void {
    const view = this.view(entry);
    const devices = this.#users.get(entry.userId);
    if (!devices) {
      this.#users.set(entry.userId, { entries: [entry], views: [view] });
      this.#size++;
      this.#countLease(entry.leaseId, 1);
      return;
    }
    const index = position(devices.entries, entry.deviceId);
    const entries = devices.entries.slice();
    const views = devices.views.slice();
    const previous = entries[index];
    if (previous?.deviceId === entry.deviceId) {
      this.#countLease(previous.leaseId, -1);
      entries[index] = entry;
      views[index] = view;
    } else {
      this.#size++;
      entries.splice(index, 0, entry);
      views.splice(index, 0, view);
    }
    this.#users.set(entry.userId, { entries, views });
    this.#countLease(entry.leaseId, 1);
  }

  remove(entry: DeviceEntry): void {
    const devices = this.#users.get(entry.userId);
    if (!devices) return;
    const index = position(devices.entries, entry.deviceId);
    const previous = devices.entries[index];
    if (previous?.deviceId !== entry.deviceId) return;
    this.#size--;
    if (devices.entries.length === 1) this.#users.delete(entry.userId);
    else {
      const entries = devices.entries.slice();
      const views = devices.views.slice();
      entries.splice(index, 1);
      views.splice(index, 1);
      this.#users.set(entry.userId, { entries, views });
    }
    this.#countLease(previous.leaseId, -1);
  }

  #countLease(leaseId: bigint, delta: number): void {
    const count = (this.#leaseEntries.get(leaseId) ?? 0) + delta;
    if (count > 0) this.#leaseEntries.set(leaseId, count);
    else this.#leaseEntries.delete(leaseId);
  }
}

/** Where `deviceId` is, or would be inserted, in entries sorted by device id (binary search). */
function position(entries: readonly DeviceEntry[], deviceId: string): number {
  let low = 0;
  let high = entries.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (entries[mid]!.deviceId < deviceId) low = mid + 1;
    else high = mid;
  }
  return low;
}
