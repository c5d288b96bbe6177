import { StoreError } from "@im-core/common";
import { inArray, sql } from "drizzle-orm";
import type { MySql2Database } from "drizzle-orm/mysql2";
import { now3, sequenceCeilings, sequenceEpoch } from "./schema.js";

export type ConversationType = "private" | "group";

/** What the backup stores about a conversation, besides its ceiling. */
export interface BackupConversation {
  /** Stable, at most 64 characters (the sequence service uses the SHA-256 hex of its key). */
  readonly id: string;
  readonly type: ConversationType;
  readonly partA: string;
  readonly partB: string | null;
}

/** A ceiling raised and committed: every number up to `ceiling` may now be handed out. */
export interface Reservation {
  /** The ceiling before: no number above it had been handed out (given the conversation's lock). */
  readonly previous: number;
  readonly ceiling: number;
}

/** Raises the conversation's ceiling to at least `target(previous)` and commits, if `epoch` is current. */
export type Reserve = (
  conversation: BackupConversation,
  epoch: number,
  target: (previous: number) => number,
) => Promise<Reservation>;

/** A reservation was refused because the epoch moved on: the caller's view of Redis is outdated. */
export class EpochFencedError extends StoreError {
  constructor(
    readonly expected: number,
    readonly current: number,
  ) {
    super("unavailable", `sequence epoch moved from ${expected} to ${current}; retry`);
  }
}

/** One conversation's part of a reservation transaction: the arguments of a `Reserve` call. */
export interface CeilingRequest {
  readonly conversation: BackupConversation;
  readonly epoch: number;
  readonly target: (previous: number) => number;
}

export const EPOCH_ROW = 1;

/** The MySQL lock of a conversation (GET_LOCK names are at most 64 characters). */
export function lockName(id: string): string {
  return `im-seq/${id}`.slice(0, 64);
}

/**
 * Raises the ceilings of distinct conversations in ONE transaction: the epoch under a shared row lock,
 * every previous ceiling in one SELECT, every new one in one multi-row INSERT … ON DUPLICATE KEY UPDATE.
 * The caller holds each conversation's lock, so no other reservation of them commits in between. Answers
 * per request, in order: its reservation, or an EpochFencedError when it was made for another epoch
 * (those write nothing; the others still commit). A deadlock rolled the whole transaction back, so it
 * is tried again: nothing was committed and the locks are still held.
 */
export async function reserveCeilings(
  db: MySql2Database,
  requests: readonly CeilingRequest[],
): Promise<(Reservation | EpochFencedError)[]> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await db.transaction((tx) => reserveOnce(tx as unknown as MySql2Database, requests));
    } catch (error) {
      if (attempt === 3 || !isDeadlock(error)) throw error;
    }
  }
}

async function reserveOnce(
  tx: MySql2Database,
  requests: readonly CeilingRequest[],
): Promise<(Reservation | EpochFencedError)[]> {
  // Shared lock: an epoch bump waits for reservations in flight, and fences later ones.
  const [epochRows] = (await tx.execute(
    sql`SELECT epoch FROM ${sequenceEpoch} WHERE id = ${EPOCH_ROW} LOCK IN SHARE MODE`,
  )) as unknown as [{ epoch: number | string }[]];
  const current = Number(epochRows[0]?.epoch ?? 0);
  const live = requests.filter((request) => request.epoch === current);
  const reservations = new Map<string, Reservation>();
  if (live.length > 0) {
    const t = sequenceCeilings;
    const rows = await tx
      .select({ id: t.id, ceiling: t.ceiling })
      .from(t)
      .where(
        inArray(
          t.id,
          live.map((request) => request.conversation.id),
        ),
      );
    const previous = new Map(rows.map((row) => [row.id, row.ceiling]));
    // In id order: concurrent transactions take their row locks in one order.
    const values = [...live]
      .sort((a, b) => (a.conversation.id < b.conversation.id ? -1 : 1))
      .map(({ conversation: { id, type, partA, partB }, target }) => {
        const before = previous.get(id) ?? 0;
        const ceiling = Math.max(before, target(before));
        reservations.set(id, { previous: before, ceiling });
        return { id, type, partA, partB, ceiling };
      });
    await tx
      .insert(t)
      .values(values)
      .onDuplicateKeyUpdate({
        // Absolute writes never move a ceiling backwards, whatever raced them.
        set: { ceiling: sql`GREATEST(ceiling, VALUES(ceiling))`, updatedAt: now3 },
      });
  }
  return requests.map(
    (request) => reservations.get(request.conversation.id) ?? new EpochFencedError(request.epoch, current),
  );
}

export function isDeadlock(error: unknown): boolean {
  for (let e = error; e instanceof Error; e = e.cause) {
    if ((e as { code?: unknown }).code === "ER_LOCK_DEADLOCK") return true;
  }
  return false;
}
