import type { DeviceEntry } from "../devices.js";

/**
 * One user's devices: the lone device itself, or an array sorted by device id. Never mutated once
 * built: a change replaces the array, so readers may hand it out without copying. A lone device is
 * kept without an array because most users have one, and an array costs more than its entry's share.
 */
type Devices<V> = V | readonly V[];

const none: readonly never[] = Object.freeze([]);

function list<V>(devices: Devices<V>): readonly V[] {
  return Array.isArray(devices) ? devices : [devices as V];
}

/**
 * The mirror's current state: every entry by user, and how many entries each lease holds. What it keeps
 * per entry is the entry's view (built once, when the entry is applied), which carries the entry's own
 * fields too: one object per device, not an entry and a view.
 */
export class DeviceIndex<V extends DeviceEntry> {
  readonly #users = new Map<string, Devices<V>>();
  readonly #leaseEntries = new Map<bigint, number>();
  #size = 0;

  constructor(private readonly view: (entry: DeviceEntry) => V) {}

  get size(): number {
    return this.#size;
  }

  hasLease(leaseId: bigint): boolean {
    return (this.#leaseEntries.get(leaseId) ?? 0) > 0;
  }

  /** The users' entries, each user once, in no particular order. */
  entriesOf(userIds: Iterable<string>): DeviceEntry[] {
    const entries: DeviceEntry[] = [];
    for (const userId of new Set(userIds)) {
      const devices = this.#users.get(userId);
      if (devices) entries.push(...list(devices));
    }
    return entries;
  }

  /**
   * The users' views sorted by user, then device (UTF-16 code unit order), each user once. For one user
   * of several devices, the index's own read-only array: nothing is copied per call.
   */
  viewsOf(userIds: readonly string[]): readonly V[] {
    if (userIds.length === 1) {
      const devices = this.#users.get(userIds[0]!);
      return devices ? list(devices) : none;
    }
    const views: V[] = [];
    for (const userId of [...new Set(userIds)].sort()) {
      const devices = this.#users.get(userId);
      if (devices) views.push(...list(devices));
    }
    return views;
  }

  all(): DeviceEntry[] {
    return [...this.#users.values()].flatMap(list);
  }

  put(entry: DeviceEntry): void {
    const devices = this.#users.get(entry.userId);
    if (!devices) {
      this.#users.set(entry.userId, this.view(entry));
      this.#size++;
      this.#countLease(entry.leaseId, 1);
      return;
    }
    const current = list(devices);
    // Every device of a user keeps the one user id string the map holds, not a copy per device.
    const view = this.view({ ...entry, userId: current[0]!.userId });
    const index = position(current, entry.deviceId);
    const previous = current[index];
    const replaces = previous?.deviceId === entry.deviceId;
    if (replaces) this.#countLease(previous.leaseId, -1);
    else this.#size++;
    const views = spliced(current, index, replaces ? 1 : 0, view);
    this.#users.set(entry.userId, views.length === 1 ? view : views);
    this.#countLease(entry.leaseId, 1);
  }

  remove(entry: DeviceEntry): void {
    const devices = this.#users.get(entry.userId);
    if (!devices) return;
    const current = list(devices);
    const index = position(current, entry.deviceId);
    const previous = current[index];
    if (previous?.deviceId !== entry.deviceId) return;
    this.#size--;
    if (current.length === 1) this.#users.delete(entry.userId);
    else {
      const views = spliced(current, index, 1);
      this.#users.set(entry.userId, views.length === 1 ? views[0]! : views);
    }
    this.#countLease(previous.leaseId, -1);
  }

  #countLease(leaseId: bigint, delta: number): void {
    const count = (this.#leaseEntries.get(leaseId) ?? 0) + delta;
    if (count > 0) this.#leaseEntries.set(leaseId, count);
    else this.#leaseEntries.delete(leaseId);
  }
}

/**
 * A copy of `items` with `removed` items at `index` replaced by `inserted`, allocated at its exact size:
 * `splice` on a copy would leave room for ~16 more items in every user's array.
 */
function spliced<V>(items: readonly V[], index: number, removed: number, ...inserted: V[]): V[] {
  const out = new Array<V>(items.length - removed + inserted.length);
  let n = 0;
  for (let i = 0; i < index; i++) out[n++] = items[i]!;
  for (const item of inserted) out[n++] = item;
  for (let i = index + removed; i < items.length; i++) out[n++] = items[i]!;
  return out;
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
