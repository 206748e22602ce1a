// Secrets with the official Dapr JS SDK (@dapr/dapr) over HTTP and gRPC:
// client.secret.get and getBulk against secretstores.local.file (flat and
// multi-valued) and secretstores.local.env, with secret scopes.
//
// Usage: node secrets.mjs
// Env: DAPR_HOST, DAPR_HTTP_PORT, DAPR_GRPC_PORT; FILE_STORE, MULTI_STORE,
//      ENV_STORE (store names); FILE_BULK, MULTI_BULK (JSON: the bulk
//      answers after scopes); ENV_TOKEN (value of the env store's TOKEN).
// Prints one line per scenario and exits 1 if any scenario failed.

import { env, envJSON, check, checkEqual, show, failure, checkHTTPError, checkGRPCError, run } from "./lib.mjs";

const fileStore = env("FILE_STORE");
const multiStore = env("MULTI_STORE");
const envStore = env("ENV_STORE");
const fileBulk = envJSON("FILE_BULK");
const multiBulk = envJSON("MULTI_BULK");
const envToken = env("ENV_TOKEN");

// checkDenied checks the error of a read the secret scopes deny.
function checkDenied(protocol, what, err) {
  if (protocol === "grpc") {
    checkGRPCError(what, err, 7); // PermissionDenied
    return;
  }
  checkHTTPError(what, err, 403, "ERR_PERMISSION_DENIED");
}

function scenarios(protocol, client) {
  return {
    async get() {
      for (const [name, want] of Object.entries(fileBulk)) {
        checkEqual(`secret.get(${fileStore}, ${name})`, await client.secret.get(fileStore, name), want);
      }
    },
    async getMultiValued() {
      for (const [name, want] of Object.entries(multiBulk)) {
        const got = await client.secret.get(multiStore, name);
        if (protocol === "http") {
          checkEqual(`secret.get(${multiStore}, ${name})`, got, want);
          continue;
        }
        // The gRPC client keeps only the first entry of the answer.
        const entries = Object.entries(got);
        check(entries.length === 1 && want[entries[0][0]] === entries[0][1], `secret.get(${multiStore}, ${name}): got ${show(got)}, want one entry of ${show(want)}`);
      }
    },
    async getEnv() {
      checkEqual(`secret.get(${envStore}, TOKEN)`, await client.secret.get(envStore, "TOKEN"), { TOKEN: envToken });
    },
    async getBulk() {
      checkEqual(`secret.getBulk(${fileStore})`, await client.secret.getBulk(fileStore), fileBulk);
      checkEqual(`secret.getBulk(${multiStore})`, await client.secret.getBulk(multiStore), multiBulk);
    },
    async scopeDenied() {
      checkDenied(protocol, "get of a denied secret", await failure("get of a denied secret", () => client.secret.get(fileStore, "denied")));
      checkDenied(protocol, "get outside allowedSecrets", await failure("get outside allowedSecrets", () => client.secret.get(multiStore, "plain")));
    },
    async unknownStore() {
      const err = await failure("get from an unknown store", () => client.secret.get("no-such-store", "plain"));
      if (protocol === "grpc") {
        checkGRPCError("get from an unknown store", err, 3); // InvalidArgument
        return;
      }
      checkHTTPError("get from an unknown store", err, 401, "ERR_SECRET_STORE_NOT_FOUND");
    },
    async missingSecret() {
      const err = await failure("get of a missing secret", () => client.secret.get(fileStore, "missing"));
      if (protocol === "grpc") {
        checkGRPCError("get of a missing secret", err, 13); // Internal
        return;
      }
      checkHTTPError("get of a missing secret", err, 500, "ERR_SECRET_GET");
    },
  };
}

process.exit(await run("secrets", ["http", "grpc"], scenarios));
