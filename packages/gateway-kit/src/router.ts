/**
 * The router's cache: the device mirror of `@im-core/stores/mirror` (BatchLookup, then Watch from the
 * answer's revision, resumed after every disconnect), re-exported so a router installs this one package.
 */
export * from "@im-core/stores/mirror";
