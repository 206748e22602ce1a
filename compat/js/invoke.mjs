// Service invocation with the official Dapr JS SDK (@dapr/dapr): a
// DaprServer is the callee app behind sidecar B, and DaprClients over HTTP
// and gRPC call it through sidecar A.
//
// Usage: node invoke.mjs
// Env: DAPR_HOST; CALLER_APP_ID, CALLER_HTTP_PORT, CALLER_GRPC_PORT (sidecar A);
//      CALLEE_APP_ID, CALLEE_HTTP_PORT (sidecar B); APP_PORT (B's --app-port,
//      where this script's DaprServer listens).
// Prints one line per scenario and exits 1 if any scenario failed.

import { isDeepStrictEqual, inspect } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";
import { DaprClient, DaprServer, CommunicationProtocolEnum, HttpMethod, LogLevel } from "@dapr/dapr";

function env(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`missing environment variable ${name}`);
    process.exit(2);
  }
  return v;
}

const host = process.env.DAPR_HOST ?? "127.0.0.1";
const callerID = env("CALLER_APP_ID");
const calleeID = env("CALLEE_APP_ID");
const calleeHTTPPort = env("CALLEE_HTTP_PORT");
const logger = { level: LogLevel.Error };

class Mismatch extends Error {}

function check(cond, msg) {
  if (!cond) throw new Mismatch(msg);
}

function checkEqual(what, got, want) {
  check(isDeepStrictEqual(got, want), `${what}: got ${inspect(got, { depth: 5 })}, want ${inspect(want, { depth: 5 })}`);
}

// The callee app: "hello" (POST only) answers with what it received.
const server = new DaprServer({
  serverHost: host,
  serverPort: env("APP_PORT"),
  communicationProtocol: CommunicationProtocolEnum.HTTP,
  clientOptions: { daprHost: host, daprPort: calleeHTTPPort, communicationProtocol: CommunicationProtocolEnum.HTTP },
  logger,
});
await server.invoker.listen(
  "hello",
  async (data) => ({
    received: JSON.parse(data.body),
    contentType: data.metadata.contentType,
    caller: data.headers["dapr-caller-app-id"],
    callee: data.headers["dapr-callee-app-id"],
  }),
  { method: HttpMethod.POST },
);
await server.start();
await waitAppReady();

// waitAppReady polls sidecar B's /v1.0/healthz: it answers 204 only once B
// has found this app's port, before which invocations would fail.
async function waitAppReady() {
  const url = `http://${host}:${calleeHTTPPort}/v1.0/healthz`;
  const deadline = Date.now() + 10000;
  let last = "no answer";
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      if (res.status === 204) return;
      last = `${res.status} ${await res.text()}`;
    } catch (e) {
      last = String(e);
    }
    await sleep(20);
  }
  console.log(`FAIL setup: ${url} still ${last} after 10s`);
  process.exit(1);
}

// rejection returns the error fn throws, or fails when it succeeds.
async function rejection(what, fn) {
  try {
    const res = await fn();
    throw new Mismatch(`${what}: succeeded with ${inspect(res)}, want an error`);
  } catch (e) {
    if (e instanceof Mismatch) throw e;
    return e;
  }
}

// checkFailed checks the gRPC code (gRPC) or the HTTP status (HTTP).
function checkFailed(protocol, what, err, want) {
  if (protocol === "grpc") {
    check(err.code === want.grpc, `${what}: gRPC code ${err.code} (${err.message}), want ${want.grpc}`);
    return;
  }
  let info;
  try {
    info = JSON.parse(err.message);
  } catch {
    throw new Mismatch(`${what}: unexpected error ${err}`);
  }
  check(info.status === want.status, `${what}: HTTP ${info.status} ${info.error_msg}, want ${want.status}`);
}

function scenarios(protocol, client) {
  return {
    async postJSON() {
      const res = await client.invoker.invoke(calleeID, "hello", HttpMethod.POST, { x: 1 });
      checkEqual("invoke(hello, POST, {x: 1})", res, {
        received: { x: 1 },
        contentType: "application/json",
        caller: callerID,
        callee: calleeID,
      });
    },
    async postNested() {
      const body = { order: { id: "o-1", items: ["a", "b"], total: 9.5 }, note: "ünïcode ✓" };
      const res = await client.invoker.invoke(calleeID, "hello", HttpMethod.POST, body);
      checkEqual("invoke(hello, POST, nested)", res.received, body);
    },
    async unknownMethod() {
      const err = await rejection("invoke(no-such-method)", () =>
        client.invoker.invoke(calleeID, "no-such-method", HttpMethod.POST, { x: 1 }),
      );
      // The app's 404 is relayed (HTTP) or mapped to NotFound (gRPC).
      checkFailed(protocol, "invoke(no-such-method)", err, { status: 404, grpc: 5 });
    },
    async wrongVerb() {
      const err = await rejection("invoke(hello, GET)", () => client.invoker.invoke(calleeID, "hello", HttpMethod.GET));
      checkFailed(protocol, "invoke(hello, GET) of a POST-only method", err, { status: 404, grpc: 5 });
    },
    async unknownApp() {
      const err = await rejection("invoke(unknown app)", () =>
        client.invoker.invoke(`nobody-${calleeID}`, "hello", HttpMethod.POST, { x: 1 }),
      );
      checkFailed(protocol, "invoke(unknown app id)", err, { status: 500, grpc: 13 });
    },
  };
}

let failed = 0;
let total = 0;
for (const protocol of ["http", "grpc"]) {
  const grpc = protocol === "grpc";
  const client = new DaprClient({
    daprHost: host,
    daprPort: grpc ? env("CALLER_GRPC_PORT") : env("CALLER_HTTP_PORT"),
    communicationProtocol: grpc ? CommunicationProtocolEnum.GRPC : CommunicationProtocolEnum.HTTP,
    logger,
  });
  for (const [name, fn] of Object.entries(scenarios(protocol, client))) {
    total++;
    try {
      await fn();
      console.log(`ok   ${protocol} ${name}`);
    } catch (e) {
      failed++;
      const msg = e instanceof Mismatch ? e.message : `unexpected error: ${e?.stack ?? e}`;
      console.log(`FAIL ${protocol} ${name}: ${msg}`);
    }
  }
  await client.stop();
}
await server.stop();
if (failed > 0) {
  console.log(`${failed} of ${total} invocation scenarios failed`);
  process.exit(1);
}
console.log(`all ${total} invocation scenarios passed`);
process.exit(0);
