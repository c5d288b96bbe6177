import type { Device } from "./registrar.js";

/** One string per (user, device): the registry refuses control characters in ids, NUL among them. */
export const deviceKey = (userId: string, deviceId: string) => `${userId}\0${deviceId}`;

/**
 * The devices a gateway holds: what a recovery registers again. Each `hold` stores a new object, so a check
 * that spans an await can tell (`isStill`) whether the device was registered again meanwhile.
 */
export class HeldDevices {
  readonly #devices = new Map<string, Device>();
  /** Registrations in flight, by device: a drop report waits for them before it is judged. */
  readonly #registering = new Map<string, Set<Promise<unknown>>>();

  get size(): number {
    return this.#devices.size;
  }

  hold(userId: string, deviceId: string): Device {
    const device: Device = { userId, deviceId };
    this.#devices.set(deviceKey(userId, deviceId), device);
    return device;
  }

  get(userId: string, deviceId: string): Device | undefined {
    return this.#devices.get(deviceKey(userId, deviceId));
  }

  /** Whether `device` is still the held registration of its device (not released, not held anew). */
  isStill(device: Device): boolean {
    return this.#devices.get(deviceKey(device.userId, device.deviceId)) === device;
  }

  /** Stops holding the device; answers whether it was held. */
  release(userId: string, deviceId: string): boolean {
    return this.#devices.delete(deviceKey(userId, deviceId));
  }

  /** Stops holding `device` unless it was held anew since. */
  releaseIfStill(device: Device): void {
    if (this.isStill(device)) this.release(device.userId, device.deviceId);
  }

  all(): Device[] {
    return [...this.#devices.values()];
  }

  clear(): void {
    this.#devices.clear();
  }

  /** Marks the devices as being registered by `run` until it settles (several runs may overlap). */
  async registering<T>(devices: readonly Device[], run: Promise<T>): Promise<T> {
    for (const d of devices) {
      const k = deviceKey(d.userId, d.deviceId);
      const runs = this.#registering.get(k) ?? new Set();
      runs.add(run);
      this.#registering.set(k, runs);
    }
    try {
      return await run;
    } finally {
      for (const d of devices) {
        const k = deviceKey(d.userId, d.deviceId);
        const runs = this.#registering.get(k);
        runs?.delete(run);
        if (runs?.size === 0) this.#registering.delete(k);
      }
    }
  }

  /** Settles when every registration of the device in flight now has; undefined if there is none. */
  inFlight(userId: string, deviceId: string): Promise<unknown> | undefined {
    const runs = this.#registering.get(deviceKey(userId, deviceId));
    return runs ? Promise.allSettled(runs) : undefined;
  }
}
