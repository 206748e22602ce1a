// Distributed locks with the official Dapr JS SDK (@dapr/dapr) over HTTP
// and gRPC: client.lock.lock and unlock.
//
// Usage: node lock.mjs
// Env: DAPR_HOST, DAPR_HTTP_PORT, DAPR_GRPC_PORT; STORE_NAME; RUN (unique
//      per run, for resource ids).
// Prints one line per scenario and exits 1 if any scenario failed.

// The SDK returns unlock statuses as its LockStatus enum, which the package
// index does not export.
import unlockResponse from "@dapr/dapr/types/lock/UnlockResponse.js";
import { env, check, checkEqual, failure, checkHTTPError, checkGRPCError, run } from "./lib.mjs";

const { LockStatus } = unlockResponse;
const store = env("STORE_NAME");
const runID = env("RUN");

function scenarios(protocol, client) {
  const res = (what) => `${protocol}-${what}-${runID}`;
  const lock = (r, owner, expiry = 30) => client.lock.lock(store, r, owner, expiry);
  const unlock = async (r, owner) => (await client.lock.unlock(store, r, owner)).status;
  return {
    async lockUnlock() {
      const r = res("owner");
      checkEqual("lock of a free resource", await lock(r, "owner-1"), { success: true });
      checkEqual("lock by another owner", await lock(r, "owner-2"), { success: false });
      checkEqual("unlock by another owner", LockStatus[await unlock(r, "owner-2")], "LockBelongsToOthers");
      checkEqual("unlock by the owner", LockStatus[await unlock(r, "owner-1")], "Success");
      checkEqual("second unlock", LockStatus[await unlock(r, "owner-1")], "LockDoesNotExist");
      checkEqual("lock after unlock", await lock(r, "owner-2"), { success: true });
      checkEqual("unlock by the new owner", LockStatus[await unlock(r, "owner-2")], "Success");
    },
    async contention() {
      const r = res("race");
      const owners = Array.from({ length: 6 }, (_, i) => `owner-${i}`);
      const results = await Promise.all(owners.map((o) => lock(r, o)));
      const winners = owners.filter((_, i) => results[i].success);
      check(winners.length === 1, `owners that got the lock: ${winners}, want exactly one`);
      checkEqual("unlock by the winner", LockStatus[await unlock(r, winners[0])], "Success");
    },
    async invalidExpiry() {
      const err = await failure("lock with expiry 0", () => lock(res("expiry"), "owner", 0));
      if (protocol === "grpc") {
        checkGRPCError("lock with expiry 0", err, 3); // InvalidArgument
        return;
      }
      checkHTTPError("lock with expiry 0", err, 400, "ERR_MALFORMED_REQUEST");
    },
    async unknownStore() {
      const err = await failure("lock in an unknown store", () => client.lock.lock("no-such-store", res("store"), "owner", 10));
      if (protocol === "grpc") {
        checkGRPCError("lock in an unknown store", err, 3); // InvalidArgument
        return;
      }
      checkHTTPError("lock in an unknown store", err, 400, "ERR_LOCK_STORE_NOT_FOUND");
    },
  };
}

process.exit(await run("lock", ["http", "grpc"], scenarios));
