import type { PoolConnection } from "mysql2/promise";
import {
  type CeilingRequest,
  EPOCH_ROW,
  EpochFencedError,
  isDeadlock,
  type Reservation,
} from "./ceilings.js";

/**
 * The statements of a batch of seeds, written for few round trips: a first touch waits for every one of
 * them, so each costs every new conversation of the batch a round trip's latency. Each function sends
 * several statements in one round trip (the pool is made with `multipleStatements`, see createMySqlPool;
 * every value goes through the driver's escaping); MySQL runs them in order and stops at the first error.
 */

/**
 * One round trip: takes each lock without waiting (GET_LOCK(name, 0)), THEN reads the committed
 * ceilings of `ids`. Answers which locks were taken (by index) and the ceilings read (0: no row yet).
 *
 * The read comes after the locks in the same request, so a ceiling read for a conversation whose lock
 * was taken is its latest committed one and stays so while the lock is held: every ceiling write holds
 * the conversation's lock (reserveCeilings, writeCeilings). Ceilings of conversations whose lock was not
 * taken are read too and must be ignored.
 */
export async function lockAndRead(
  connection: PoolConnection,
  locks: readonly string[],
  ids: readonly string[],
): Promise<{ taken: boolean[]; ceilings: Map<string, number> }> {
  const [results] = await connection.query(
    `SELECT ${locks.map((_, i) => `GET_LOCK(?, 0) AS l${i}`).join(", ")};` +
      ` SELECT id, ceiling FROM sequence_ceilings WHERE id IN (${ids.map(() => "?").join(", ")})`,
    [...locks, ...ids],
  );
  const [lockRows, ceilingRows] = results as unknown as [
    Record<string, number | null>[],
    { id: string; ceiling: number | string }[],
  ];
  const got = lockRows[0] ?? {};
  return {
    taken: locks.map((_, i) => got[`l${i}`] === 1),
    ceilings: new Map(ceilingRows.map((row) => [row.id, Number(row.ceiling)])),
  };
}

/**
 * Commits the ceilings of distinct conversations whose locks the caller holds and whose committed
 * ceilings it read under them (`read`, by id; missing: 0), in one transaction sent in ONE round trip:
 * `BEGIN; SELECT epoch … LOCK IN SHARE MODE; INSERT … ON DUPLICATE KEY UPDATE ceiling = GREATEST(…);
 * COMMIT`. Answers per request, in order, as reserveCeilings does; `read` is updated to the committed
 * ceilings. A deadlock (the transaction rolled back, nothing committed, the named locks still held) is
 * tried again; any other failure stops the statements before the COMMIT and is thrown (the caller drops
 * the connection, which rolls back).
 *
 * The epoch is checked after the rows are sent, not before: a reservation is only ever applied to
 * Redis when the epoch read under the shared lock (which an epoch bump waits for, and which waits for a
 * bump under way) is the one it was asked for, so what a fenced request committed is a ceiling nobody
 * is given: a gap, as after a lost COMMIT answer. Only requests of the newest epoch in the batch are
 * written. Epochs come from MySQL and only grow, so that is the current epoch unless the whole batch is
 * behind a Redis server change: then every request is fenced, and the rows written are the gap every
 * conversation pays for that change anyway.
 */
export async function writeCeilings(
  connection: PoolConnection,
  requests: readonly CeilingRequest[],
  read: Map<string, number>,
): Promise<(Reservation | EpochFencedError)[]> {
  const epoch = Math.max(...requests.map((request) => request.epoch));
  const rows = requests
    .filter((request) => request.epoch === epoch)
    .map((request) => {
      const { id, type, partA, partB } = request.conversation;
      const previous = read.get(id) ?? 0;
      const ceiling = Math.max(previous, request.target(previous));
      return { request, id, type, partA, partB, reservation: { previous, ceiling } };
    })
    // In id order: concurrent transactions take their row locks in one order.
    .sort((a, b) => (a.id < b.id ? -1 : 1));
  const statements =
    `BEGIN; SELECT epoch FROM sequence_epoch WHERE id = ${EPOCH_ROW} LOCK IN SHARE MODE;` +
    " INSERT INTO sequence_ceilings (id, type, part_a, part_b, ceiling)" +
    ` VALUES ${rows.map(() => "(?, ?, ?, ?, ?)").join(", ")}` +
    // Absolute writes never move a ceiling backwards, whatever raced them.
    " ON DUPLICATE KEY UPDATE ceiling = GREATEST(ceiling, VALUES(ceiling)), updated_at = CURRENT_TIMESTAMP(3);" +
    " COMMIT";
  const values = rows.flatMap((row) => [row.id, row.type, row.partA, row.partB, row.reservation.ceiling]);
  let results: unknown;
  for (let attempt = 1; ; attempt += 1) {
    try {
      [results] = await connection.query(statements, values);
      break;
    } catch (error) {
      if (attempt === 3 || !isDeadlock(error)) throw error;
    }
  }
  const epochRows = (results as unknown[])[1] as { epoch: number | string }[];
  const current = Number(epochRows[0]?.epoch ?? 0);
  const committed = new Map<CeilingRequest, Reservation>();
  for (const row of rows) {
    read.set(row.id, row.reservation.ceiling);
    if (current === epoch) committed.set(row.request, row.reservation);
  }
  return requests.map((request) => committed.get(request) ?? new EpochFencedError(request.epoch, current));
}
