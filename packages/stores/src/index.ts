export { isStoreError, StoreError, type StoreErrorKind } from "./errors.js";
