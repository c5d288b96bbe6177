export { backoff, sleep } from "./backoff.js";
export { withDeadline } from "./deadline.js";
export { isStoreError, StoreError, type StoreErrorKind } from "./errors.js";
