import type { ListSnapshotsRequest } from "@im-core/proto";
import { toSnapshot, typeFilterOf } from "./convert.js";
import type { SequenceDeps } from "./index.js";
import { decodePageToken, encodePageToken } from "./page-token.js";
import { pageSizeOf } from "./validate.js";

export function snapshotHandlers({ backup }: SequenceDeps) {
  return {
    async listSnapshots(request: ListSnapshotsRequest) {
      const type = typeFilterOf("type", request.type);
      const limit = pageSizeOf("page_size", request.pageSize);
      const afterId = decodePageToken("page_token", request.pageToken);
      // One row more than asked says whether another page follows.
      const rows = await backup.page({ type, afterId, limit: limit + 1 });
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        snapshots: page.map(toSnapshot),
        nextPageToken: rows.length > limit && last ? encodePageToken(last.id) : "",
      };
    },
  };
}
