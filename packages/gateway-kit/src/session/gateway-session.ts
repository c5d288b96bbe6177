import { setMaxListeners } from "node:events";
import { type Client, Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { withDeadline } from "@im-core/common";
import { type DeviceLocation, RegistryService } from "@im-core/proto/registry/v1";
import { registerInBatches } from "./batch-registrar.js";
import { DropReports } from "./drop-reports.js";
import { type DropEvent, type DropFeed, Emitter, type SessionEvents } from "./events.js";
import { deviceKey, HeldDevices } from "./held-devices.js";
import { grantWithRetry, type Lease } from "./lease.js";
import { locate } from "./locate.js";
import { registerAgain } from "./recovery.js";
import { type BulkRegistrar, type Device, type RegisterOutcome, registerOneByOne } from "./registrar.js";
import { watchOwnDrops } from "./watch-drops.js";

export interface GatewaySessionOptions {
  /** The registry: a client of the generated RegistryService, or a transport to make one with. */
  registry: Client<typeof RegistryService> | Transport;
  /** This gateway's node, as its token names it (e.g. "10.0.0.7:9000"). */
  gatewayNode: string;
  /** Lease TTL asked of GrantLease; 0 (default) means the service's default (90 s). */
  ttlSeconds?: number;
  /** Renewals come every TTL/3 shortened by up to this fraction, so gateways spread out. Default 0.1. */
  jitter?: number;
  /** Deadline of each registry call. Default 5,000 ms. */
  timeoutMs?: number;
  /**
   * How `registerAll` and a recovery register many devices. Default {@link registerInBatches}: BatchRegister,
   * 1,000 devices per call (single Register calls against a registry without it).
   */
  bulkRegistrar?: BulkRegistrar;
  /**
   * Where takeovers, evictions by other gateways and foreign unregistrations come from. Default
   * {@link watchOwnDrops}: the registry's Watch filtered by this gateway node. `null`: none (drops are
   * then only the evictions this session's own registrations cause).
   */
  dropFeed?: DropFeed | null;
}

/**
 * One gateway node's presence in the registry: one lease shared by all its devices, renewed every TTL/3;
 * after the lease is lost (expired, revoked, etcd wiped) a new one is granted and every live device is
 * registered on it again; `close()` revokes it, removing every entry at once.
 */
export class GatewaySession {
  readonly gatewayNode: string;
  readonly #registry: Client<typeof RegistryService>;
  readonly #options: GatewaySessionOptions;
  readonly #bulk: BulkRegistrar;
  readonly #registerOne: BulkRegistrar;
  readonly #events = new Emitter<SessionEvents>();
  readonly #devices = new HeldDevices();
  readonly #closing = new AbortController();
  #lease: Lease | undefined;
  #recovery: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;

  private constructor(options: GatewaySessionOptions) {
    this.#options = options;
    this.gatewayNode = options.gatewayNode;
    // Every call in flight listens to it (a reconnect storm keeps thousands of them).
    setMaxListeners(0, this.#closing.signal);
    this.#registry =
      "grantLease" in options.registry ? options.registry : createClient(RegistryService, options.registry);
    const timeoutMs = this.#timeoutMs;
    this.#bulk = options.bulkRegistrar ?? registerInBatches(this.#registry, { timeoutMs });
    // Register rather than BatchRegister for one device: its answer reports evictions the same way.
    this.#registerOne = registerOneByOne(this.#registry, { concurrency: 1, timeoutMs });
  }

  /** Grants the lease (retrying while the registry is unreachable) and starts renewing it. */
  static async open(options: GatewaySessionOptions): Promise<GatewaySession> {
    const session = new GatewaySession(options);
    await session.#grant();
    session.#scheduleRenewal(session.renewIntervalMs);
    const feed =
      options.dropFeed === undefined
        ? watchOwnDrops(session.#registry, options.gatewayNode, (e) => session.#events.emit("error", e))
        : options.dropFeed;
    const reports = new DropReports({
      registry: session.#registry,
      gatewayNode: session.gatewayNode,
      devices: session.#devices,
      callOptions: () => session.#callOptions(),
      recovered: async () => session.#recovery?.catch(() => {}),
      leaseAlive: () => session.#leaseAlive(),
      drop: (event) => session.#drop(event),
      error: (error) => session.#events.emit("error", error),
    });
    // Bounded: a registry that accepted the lease but does not answer the Watch must not hold open().
    let following: Promise<void> | void;
    try {
      following = feed?.(reports, session.#closing.signal);
    } catch (error) {
      await session.close().catch(() => {}); // the lease and its renewals must not outlive a failed open()
      throw error;
    }
    if (following) await withDeadline(following, session.#timeoutMs, () => undefined).catch(() => {});
    return session;
  }

  get leaseId(): bigint | undefined {
    return this.#lease?.id;
  }

  /** TTL/3 of the current lease, before jitter. */
  get renewIntervalMs(): number {
    return ((this.#lease?.ttlSeconds ?? 90) * 1000) / 3;
  }

  /** How many devices this gateway holds. */
  get deviceCount(): number {
    return this.#devices.size;
  }

  on<K extends keyof SessionEvents>(event: K, listener: (value: SessionEvents[K]) => void): () => void {
    return this.#events.on(event, listener);
  }

  /**
   * Registers a device on the shared lease. It then stays registered across lease losses until it is
   * unregistered, dropped (see the `drop` event) or the session closes. Fails as Register does; a device
   * whose registration failed is not kept.
   */
  async register(userId: string, deviceId: string): Promise<void> {
    const [outcome] = await this.#registerAll([{ userId, deviceId }], this.#registerOne);
    if (!outcome!.ok) throw outcome!.error;
  }

  /**
   * Registers many devices at once (a gateway's restart, a reconnect storm): BatchRegister calls of up to
   * 1,000 devices (see `bulkRegistrar`). One outcome per device, in order; the devices that failed are not
   * kept. Use it instead of many `register` calls: it costs the registry a few etcd txns per thousand.
   */
  registerAll(devices: readonly Device[]): Promise<RegisterOutcome[]> {
    return this.#registerAll(devices, this.#bulk);
  }

  async #registerAll(devices: readonly Device[], registrar: BulkRegistrar): Promise<RegisterOutcome[]> {
    this.#refuseIfClosed();
    // Each device once (a repeat in one BatchRegister is refused, which would release the device).
    const keys = devices.map((d) => deviceKey(d.userId, d.deviceId));
    const unique = new Map(keys.map((key, i) => [key, devices[i]!]));
    // In the set before the call: a recovery starting meanwhile registers them too (registering is idempotent).
    const held = [...unique.values()].map(({ userId, deviceId }) => this.#devices.hold(userId, deviceId));
    const outcomes = await this.#devices.registering(held, this.#registerHeld(held, registrar));
    const byKey = new Map([...unique.keys()].map((key, i) => [key, outcomes[i]!]));
    return keys.map((key) => byKey.get(key)!);
  }

  async #registerHeld(held: readonly Device[], registrar: BulkRegistrar): Promise<RegisterOutcome[]> {
    let outcomes: RegisterOutcome[];
    try {
      if (this.#recovery) await this.#recovery;
      const lease = this.#lease!;
      outcomes = await registrar(held, {
        leaseId: lease.id,
        gatewayNode: this.gatewayNode,
        signal: this.#closing.signal,
      });
      // The lease went before its renewal noticed: the recovery registers every device in the set.
      if (outcomes.some((o) => !o.ok && o.error.code === Code.NotFound)) await this.#recover(lease.id);
    } catch (error) {
      outcomes = held.map(() => ({ ok: false, error: ConnectError.from(error) }));
    }
    return outcomes.map((outcome, i) => {
      const device = held[i]!;
      if (outcome.ok) this.#evicted(outcome.evicted);
      // NOT_FOUND: the recovery registered it, unless the device limit refused it there (a drop).
      else if (outcome.error.code === Code.NotFound && this.#devices.isStill(device)) {
        return { ok: true, evicted: [] };
      } else this.#devices.releaseIfStill(device);
      return outcome;
    });
  }

  /** Whether this gateway holds the device (registered, not unregistered or dropped since). */
  holds(userId: string, deviceId: string): boolean {
    return this.#devices.get(userId, deviceId) !== undefined;
  }

  /**
   * Removes the device's entry while it still points to this gateway (a device that moved elsewhere
   * meanwhile is left alone). Answers whether an entry was removed.
   */
  async unregister(userId: string, deviceId: string): Promise<boolean> {
    this.#refuseIfClosed();
    // After a running recovery and the device's registrations in flight, so that none of them can
    // register it again behind this call (the entry would outlive the connection until the lease ends).
    await this.#recovery?.catch(() => {});
    await this.#devices.inFlight(userId, deviceId);
    this.#devices.release(userId, deviceId);
    const answer = await this.#registry.unregister(
      { userId, deviceId, gatewayNode: this.gatewayNode },
      this.#callOptions(),
    );
    return answer.removed;
  }

  /** Stops renewing and revokes the lease: every entry of this gateway goes in one etcd revision. */
  async close(): Promise<void> {
    if (this.#closing.signal.aborted) return;
    this.#closing.abort();
    clearTimeout(this.#timer);
    await this.#recovery?.catch(() => {});
    this.#devices.clear();
    const lease = this.#lease;
    if (!lease) return;
    try {
      await this.#registry.revokeLease({ leaseId: lease.id }, { timeoutMs: this.#timeoutMs });
    } catch (error) {
      // Already gone is what close wants; anything else the caller should know about.
      if (ConnectError.from(error).code !== Code.NotFound) throw error;
    }
  }

  get #timeoutMs(): number {
    return this.#options.timeoutMs ?? 5_000;
  }

  #callOptions() {
    return { timeoutMs: this.#timeoutMs, signal: this.#closing.signal };
  }

  #refuseIfClosed(): void {
    if (this.#closing.signal.aborted)
      throw new ConnectError("gateway session is closed", Code.FailedPrecondition);
  }

  async #grant(): Promise<void> {
    this.#lease = await grantWithRetry(
      this.#registry,
      { gatewayNode: this.gatewayNode, ttlSeconds: this.#options.ttlSeconds ?? 0 },
      this.#callOptions(),
      (failure) => this.#events.emit("error", failure),
    );
  }

  #scheduleRenewal(delayMs: number): void {
    if (this.#closing.signal.aborted) return;
    const jitter = this.#options.jitter ?? 0.1;
    this.#timer = setTimeout(() => void this.#renew(), delayMs * (1 - jitter * Math.random()));
  }

  async #renew(): Promise<void> {
    try {
      // Lost: the recovery it started (its failure already reported) runs before the next renewal.
      if (!(await this.#leaseAlive())) await this.#recovery?.catch(() => {});
      this.#scheduleRenewal(this.renewIntervalMs);
    } catch (error) {
      if (this.#closing.signal.aborted) return;
      // Unreachable or slow: try again soon, well within the TTL, so that the lease survives a short
      // outage and a long one is noticed (NOT_FOUND) soon after the registry is back.
      this.#events.emit("error", ConnectError.from(error));
      this.#scheduleRenewal(Math.min(500, this.renewIntervalMs / 4));
    }
  }

  /** One Renew of the current lease: whether it still exists. NOT_FOUND starts a recovery. */
  async #leaseAlive(): Promise<boolean> {
    const lease = this.#lease!;
    try {
      await this.#registry.renew({ leaseId: lease.id }, this.#callOptions());
      return true;
    } catch (error) {
      if (ConnectError.from(error).code !== Code.NotFound) throw error;
      void this.#recover(lease.id).catch((e: unknown) => this.#events.emit("error", ConnectError.from(e)));
      return false;
    }
  }

  /** A new lease and every live device on it; one recovery at a time, none for a lease already replaced. */
  #recover(lostLeaseId: bigint): Promise<void> {
    if (this.#recovery) return this.#recovery;
    if (this.#lease?.id !== lostLeaseId) return Promise.resolve();
    this.#events.emit("leaseLost", { leaseId: lostLeaseId });
    const run = async () => {
      const started = performance.now();
      this.#lease = await registerAgain({
        devices: this.#devices,
        bulk: this.#bulk,
        gatewayNode: this.gatewayNode,
        signal: this.#closing.signal,
        grant: async () => {
          await this.#grant();
          return this.#lease!;
        },
        evicted: (locations) => this.#evicted(locations),
        rejected: (device) => this.#drop({ ...device, reason: "rejected" }),
        locate: (devices) => locate(this.#registry, devices, this.#callOptions()),
        movedAway: (device, location) => this.#drop({ ...device, reason: "taken_over", location }),
      });
      this.#events.emit("recovered", {
        leaseId: this.#lease.id,
        devices: this.#devices.size,
        elapsedMs: performance.now() - started,
      });
    };
    this.#recovery = run().finally(() => {
      this.#recovery = undefined;
    });
    return this.#recovery;
  }

  /** Devices the device limit evicted: the ones on this gateway are this gateway's to close. */
  #evicted(evicted: readonly DeviceLocation[]): void {
    for (const location of evicted) {
      if (location.gatewayNode !== this.gatewayNode) continue;
      this.#drop({ userId: location.userId, deviceId: location.deviceId, reason: "evicted", location });
    }
  }

  #drop(event: DropEvent): void {
    if (!this.#devices.release(event.userId, event.deviceId)) return;
    this.#events.emit("drop", event);
  }
}
