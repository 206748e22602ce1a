// Shared helpers of the building-block scenarios (secrets, configuration,
// lock, bindings): environment, checks, clients and a scenario runner.

import { isDeepStrictEqual, inspect } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";
import { DaprClient, CommunicationProtocolEnum, LogLevel } from "@dapr/dapr";

export const host = process.env.DAPR_HOST ?? "127.0.0.1";
export const logger = { level: LogLevel.Error };

export function env(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`missing environment variable ${name}`);
    process.exit(2);
  }
  return v;
}

// envJSON reads a JSON-encoded environment variable.
export function envJSON(name) {
  return JSON.parse(env(name));
}

export class Mismatch extends Error {}

export function check(cond, msg) {
  if (!cond) throw new Mismatch(msg);
}

export function show(v) {
  return inspect(v, { depth: 6 });
}

export function checkEqual(what, got, want) {
  check(isDeepStrictEqual(got, want), `${what}: got ${show(got)}, want ${show(want)}`);
}

// client connects a DaprClient to the sidecar whose ports are in
// DAPR_HTTP_PORT / DAPR_GRPC_PORT.
export function client(protocol) {
  const grpc = protocol === "grpc";
  return new DaprClient({
    daprHost: host,
    daprPort: grpc ? env("DAPR_GRPC_PORT") : env("DAPR_HTTP_PORT"),
    communicationProtocol: grpc ? CommunicationProtocolEnum.GRPC : CommunicationProtocolEnum.HTTP,
    logger,
  });
}

// failure runs fn and returns what it threw, or fails when it did not.
export async function failure(what, fn) {
  let res;
  try {
    res = await fn();
  } catch (e) {
    return e;
  }
  throw new Mismatch(`${what}: got ${show(res)}, want an error`);
}

// checkHTTPError checks an error the HTTP client threw: its message is the
// JSON {error, error_msg, status} with the sidecar's body as error_msg.
export function checkHTTPError(what, err, status, errorCode) {
  let info;
  try {
    info = JSON.parse(err.message);
  } catch {
    throw new Mismatch(`${what}: error ${show(err)} is not the HTTP client's JSON error`);
  }
  checkEqual(`${what}: HTTP status (body ${info.error_msg})`, info.status, status);
  let body;
  try {
    body = JSON.parse(info.error_msg);
  } catch {
    throw new Mismatch(`${what}: body ${show(info.error_msg)} is not JSON`);
  }
  checkEqual(`${what}: errorCode (body ${info.error_msg})`, body.errorCode, errorCode);
}

// checkGRPCError checks a ConnectError's numeric gRPC code.
export function checkGRPCError(what, err, code) {
  checkEqual(`${what}: gRPC code of ${show(err?.message)}`, err?.code, code);
}

// waitUntil polls cond every 20ms until it returns a truthy value.
export async function waitUntil(what, cond, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > deadline) throw new Mismatch(`${what}: still not the case after ${timeoutMs}ms`);
    await sleep(20);
  }
}

// run runs each protocol's scenarios with a fresh client, prints one line
// per scenario and exits 1 if any failed.
export async function run(kind, protocols, scenarios) {
  let failed = 0;
  let total = 0;
  for (const protocol of protocols) {
    const c = client(protocol);
    for (const [name, fn] of Object.entries(scenarios(protocol, c))) {
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
    await c.stop();
  }
  if (failed > 0) {
    console.log(`${failed} of ${total} ${kind} scenarios failed`);
    return 1;
  }
  console.log(`all ${total} ${kind} scenarios passed`);
  return 0;
}

// waitSidecarHealthy polls the sidecar's /v1.0/healthz until it answers
// 204, which it does only once it has found its app: scripts that are the
// app call it after starting their DaprServer.
export async function waitSidecarHealthy() {
  const url = `http://${host}:${env("DAPR_HTTP_PORT")}/v1.0/healthz`;
  let last = "no answer";
  try {
    await waitUntil(`GET ${url} = 204`, async () => {
      try {
        const res = await fetch(url);
        last = `${res.status} ${await res.text()}`;
        return res.status === 204;
      } catch (e) {
        last = String(e);
        return false;
      }
    });
  } catch (e) {
    throw new Mismatch(`${e.message} (last: ${last})`);
  }
}
