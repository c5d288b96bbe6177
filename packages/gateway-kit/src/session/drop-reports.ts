import { type CallOptions, type Client, ConnectError } from "@connectrpc/connect";
import { sleep } from "@im-core/common";
import type { RegistryService } from "@im-core/proto/registry/v1";
import type { DropEvent } from "./events.js";
import { deviceKey, type HeldDevices } from "./held-devices.js";
import { locate, MAX_USERS_PER_LOOKUP } from "./locate.js";

export interface DropReportsContext {
  readonly registry: Client<typeof RegistryService>;
  readonly gatewayNode: string;
  readonly devices: HeldDevices;
  callOptions(): CallOptions & { signal: AbortSignal };
  /** Settles when no recovery is running (a recovery may register reported devices again). */
  recovered(): Promise<unknown>;
  /** Whether the current lease still exists (a Renew); false starts a recovery. */
  leaseAlive(): Promise<boolean>;
  drop(event: DropEvent): void;
  error(error: ConnectError): void;
}

/**
 * Drop reports (from the Watch) waiting to be judged against the registry: one BatchLookup at a time for up
 * to 1,000 users, whatever the number of reports, so a mass takeover (a load balancer moving thousands of
 * devices at once) costs the registry a few calls, not one per device. Only reports of held devices are
 * kept, the newest per device: the queue never outgrows the devices the gateway holds.
 */
export class DropReports {
  readonly #context: DropReportsContext;
  readonly #waiting = new Map<string, DropEvent>();
  #judging = false;

  constructor(context: DropReportsContext) {
    this.#context = context;
  }

  report(event: DropEvent): void {
    if (!this.#context.devices.get(event.userId, event.deviceId)) return;
    this.#waiting.set(deviceKey(event.userId, event.deviceId), event);
    if (!this.#judging) void this.#judgeAll();
  }

  /** The feed may have missed reports: every held device is checked (those with a report waiting as reported). */
  resync(revision: bigint): void {
    for (const { userId, deviceId } of this.#context.devices.all()) {
      this.#requeue({ userId, deviceId, reason: "gone", revision });
    }
    if (!this.#judging && this.#waiting.size > 0) void this.#judgeAll();
  }

  async #judgeAll(): Promise<void> {
    this.#judging = true;
    const { signal } = this.#context.callOptions();
    try {
      for (let failures = 0; this.#waiting.size > 0 && !signal.aborted; ) {
        const batch = this.#takeBatch();
        try {
          await this.#judge(batch);
          failures = 0;
        } catch (error) {
          if (signal.aborted) return;
          this.#context.error(ConnectError.from(error));
          failures += 1;
          // Judged again later (unless newer reports replaced them): the queue is bounded by the held
          // devices, so nothing is given up while the registry is away.
          for (const e of batch) this.#requeue(e);
          await sleep(Math.min(2_000, 100 * 2 ** failures));
        }
      }
    } finally {
      this.#judging = false;
    }
  }

  /** Up to 1,000 users' reports, in arrival order. */
  #takeBatch(): DropEvent[] {
    const users = new Set<string>();
    const batch: DropEvent[] = [];
    for (const [key, event] of this.#waiting) {
      if (!users.has(event.userId) && users.size === MAX_USERS_PER_LOOKUP) break;
      users.add(event.userId);
      batch.push(event);
      this.#waiting.delete(key);
    }
    return batch;
  }

  #requeue(event: DropEvent): void {
    const key = deviceKey(event.userId, event.deviceId);
    if (!this.#waiting.has(key)) this.#waiting.set(key, event);
  }

  async #judge(batch: readonly DropEvent[]): Promise<void> {
    const { devices, registry, gatewayNode } = this.#context;
    // Registrations in flight or a recovery may put a device back here: judge after them.
    await Promise.all(batch.map((e) => devices.inFlight(e.userId, e.deviceId)));
    await this.#context.recovered();
    const held = batch.map((e) => ({ event: e, device: devices.get(e.userId, e.deviceId) }));
    const suspects = held.filter((h) => h.device !== undefined);
    if (suspects.length === 0) return;
    const where = await locate(
      registry,
      suspects.map((s) => s.event),
      this.#context.callOptions(),
    );
    let leaseAlive: boolean | undefined;
    for (const { event, device } of suspects) {
      const location = where.get(deviceKey(event.userId, event.deviceId));
      if (location?.gatewayNode === gatewayNode) continue;
      // Registered again while the lookup ran: that registration is the device's latest word.
      if (!devices.isStill(device!) || devices.inFlight(event.userId, event.deviceId)) continue;
      // A resync's check knows where the device went, not why it left: elsewhere reads as taken over.
      if (event.reason === "gone" && location) {
        this.#context.drop({ ...event, reason: "taken_over", location });
        continue;
      }
      // Absent after a gap may mean the lease ended unnoticed: then the recovery registers it again.
      if (event.reason === "gone") {
        leaseAlive ??= await this.#context.leaseAlive();
        if (!leaseAlive) continue;
      }
      this.#context.drop(event);
    }
  }
}
