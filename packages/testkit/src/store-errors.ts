import { isStoreError } from "@im-core/common";

/** The kind of `StoreError` a call failed with, or "ok" when it succeeded; any other error is rethrown. */
export async function kindOf(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return "ok";
  } catch (error) {
    if (isStoreError(error)) return error.kind;
    throw error;
  }
}
