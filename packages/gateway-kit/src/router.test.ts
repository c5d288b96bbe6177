import { DeviceMirror as FromStores, registryFeedSource as feedFromStores } from "@im-core/stores/mirror";
import { expect, it } from "vitest";
import { DeviceMirror, registryFeedSource } from "./router.js";

it("re-exports the router's device mirror of @im-core/stores/mirror itself, not a copy", () => {
  expect(DeviceMirror).toBe(FromStores);
  expect(registryFeedSource).toBe(feedFromStores);
});
