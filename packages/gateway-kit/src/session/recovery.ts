import { Code } from "@connectrpc/connect";
import { sleep } from "@im-core/common";
import type { DeviceLocation } from "@im-core/proto/registry/v1";
import { deviceKey, type HeldDevices } from "./held-devices.js";
import type { Lease } from "./lease.js";
import { MAX_USERS_PER_LOOKUP } from "./locate.js";
import type { BulkRegistrar, Device } from "./registrar.js";

export interface RecoveryContext {
  readonly devices: HeldDevices;
  readonly bulk: BulkRegistrar;
  readonly gatewayNode: string;
  readonly signal: AbortSignal;
  /** A new lease (retried until granted or the session closes). */
  grant(): Promise<Lease>;
  evicted(locations: readonly DeviceLocation[]): void;
  /** The device limit (policy `reject`) refused to take the device back. */
  rejected(device: Device): void;
  /** Where the registry has these devices now (by device key). */
  locate(devices: readonly Device[]): Promise<Map<string, DeviceLocation>>;
  /** The device registered on another node while this gateway's lease was gone: not taken back. */
  movedAway(device: Device, location: DeviceLocation): void;
}

/**
 * After a lost lease: a new lease and every held device registered on it, in bulk. Devices that fail
 * UNAVAILABLE-like are tried again; devices another gateway registered meanwhile are not taken back; NOT_FOUND (the new lease lost as well) starts over with another lease;
 * devices released meanwhile are left out. Answers the lease they ended on.
 */
export async function registerAgain(context: RecoveryContext): Promise<Lease> {
  const { devices, signal } = context;
  let lease: Lease | undefined;
  let pending: Device[] = [];
  while (!signal.aborted) {
    if (!lease) {
      lease = await context.grant();
      pending = await withoutMoved(context, devices.all());
    }
    pending = pending.filter((d) => devices.isStill(d));
    if (pending.length === 0) break;
    const outcomes = await context.bulk(pending, {
      leaseId: lease.id,
      gatewayNode: context.gatewayNode,
      signal,
    });
    const retry: Device[] = [];
    let lost = false;
    outcomes.forEach((outcome, i) => {
      const device = pending[i]!;
      if (outcome.ok) context.evicted(outcome.evicted);
      else if (outcome.error.code === Code.NotFound) lost = true;
      else if (outcome.error.code === Code.ResourceExhausted) context.rejected(device);
      else retry.push(device);
    });
    if (lost) lease = undefined;
    else if (retry.length > 0) await sleep(200);
    pending = retry;
  }
  return lease ?? (await context.grant());
}

/**
 * The devices not registered on another node now. Any entry elsewhere is newer than this gateway's own
 * (which was on this node): the device reconnected there while the lease was gone, so registering it here
 * again would take it from its live connection.
 */
async function withoutMoved(context: RecoveryContext, held: readonly Device[]): Promise<Device[]> {
  const stay: Device[] = [];
  for (let i = 0; i < held.length; i += MAX_USERS_PER_LOOKUP) {
    const chunk = held.slice(i, i + MAX_USERS_PER_LOOKUP);
    // Unknown when the lookup fails: then every device is registered again, as before there was a check.
    const where = await context.locate(chunk).catch(() => new Map<string, DeviceLocation>());
    for (const device of chunk) {
      const location = where.get(deviceKey(device.userId, device.deviceId));
      if (location && location.gatewayNode !== context.gatewayNode) context.movedAway(device, location);
      else stay.push(device);
    }
  }
  return stay;
}
