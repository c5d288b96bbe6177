import type net from "node:net";

export interface ConnectionLimits {
  /** Connections open at once. */
  maxConnections: number;
  /** Connections open at once from one peer address. */
  maxConnectionsPerPeer: number;
}

/** One peer address's connections, and which of them are idle, longest idle first (Sets keep order). */
interface Peer {
  readonly address: string;
  readonly all: Set<net.Socket>;
  readonly idle: Set<net.Socket>;
}

/**
 * Bounds the connections an instance holds, in total and per peer address. At a limit, a new connection
 * takes the place of the longest-idle one (no request in flight, or not even its first request yet), so
 * a flood of idle or half-open connections cannot lock out callers that have work; when every connection
 * is busy, the new one is refused. O(1) per connection and per change of state.
 */
export class ConnectionGuard {
  readonly #limits: ConnectionLimits;
  readonly #peers = new Map<string, Peer>();
  readonly #peerOf = new Map<net.Socket, Peer>();
  readonly #idle = new Set<net.Socket>();

  constructor(
    limits: ConnectionLimits,
    /** Told of every connection refused, or closed to make room for another. */
    private readonly onShed: () => void = () => {},
  ) {
    this.#limits = limits;
  }

  get open(): number {
    return this.#peerOf.size;
  }

  /** Takes in a new connection (idle until `busy` says otherwise), or destroys it when no room can be made. */
  admit(socket: net.Socket): boolean {
    const address = socket.remoteAddress ?? "";
    const peer = this.#peers.get(address) ?? { address, all: new Set(), idle: new Set() };
    const roomFromPeer =
      peer.all.size < this.#limits.maxConnectionsPerPeer || this.#evict(peer.idle.values().next().value);
    if (
      !roomFromPeer ||
      (this.open >= this.#limits.maxConnections && !this.#evict(this.#idle.values().next().value))
    ) {
      this.onShed();
      socket.destroy();
      return false;
    }
    this.#peers.set(address, peer);
    this.#peerOf.set(socket, peer);
    peer.all.add(socket);
    peer.idle.add(socket);
    this.#idle.add(socket);
    socket.once("close", () => this.#forget(socket));
    return true;
  }

  /** Connections without a request in flight right now, longest idle first. */
  idleSockets(): net.Socket[] {
    return [...this.#idle];
  }

  /** The connection has a request in flight (false: none, so it may make room for another). */
  busy(socket: net.Socket, busy: boolean): void {
    const peer = this.#peerOf.get(socket);
    if (!peer) return;
    // Deleted and added again, so the order stays "longest idle first".
    peer.idle.delete(socket);
    this.#idle.delete(socket);
    if (!busy) {
      peer.idle.add(socket);
      this.#idle.add(socket);
    }
  }

  #evict(socket: net.Socket | undefined): boolean {
    if (!socket) return false;
    this.#forget(socket);
    this.onShed();
    socket.destroy();
    return true;
  }

  #forget(socket: net.Socket): void {
    const peer = this.#peerOf.get(socket);
    if (!peer) return;
    this.#peerOf.delete(socket);
    this.#idle.delete(socket);
    peer.all.delete(socket);
    peer.idle.delete(socket);
    if (peer.all.size === 0) this.#peers.delete(peer.address);
  }
}
