// Actors with the official Dapr JS SDK (@dapr/dapr): this script is both
// the actor app (a DaprServer hosting CompatJsCounter behind sidecar H) and
// the caller (ActorProxyBuilder over HTTP and gRPC through sidecar C, which
// hosts no actors and forwards to H). Both sidecars share one placement.
//
// Usage: node actors.mjs
// Env: DAPR_HOST; DAPR_HTTP_PORT (sidecar H, whose --app-port is APP_PORT);
//      CALLER_HTTP_PORT, CALLER_GRPC_PORT (sidecar C).
// Prints one line per scenario and exits 1 if any scenario failed.

import { setTimeout as sleep } from "node:timers/promises";
import { randomUUID } from "node:crypto";
import {
  AbstractActor,
  ActorId,
  ActorProxyBuilder,
  CommunicationProtocolEnum,
  DaprClient,
  DaprServer,
  Temporal,
} from "@dapr/dapr";
import { check, checkEqual, env, failure, host, logger, Mismatch, show, waitSidecarHealthy, waitUntil } from "./lib.mjs";

const hostHTTPPort = env("DAPR_HTTP_PORT");
const period = Temporal.Duration.from({ seconds: 1 });
const noDelay = Temporal.Duration.from({ seconds: 0 });

// firings records timer and reminder callbacks per actor id; app and
// caller share this process, so the scenarios read it directly.
const firings = new Map();

function record(id, kind, data) {
  const list = firings.get(id) ?? [];
  list.push({ kind, data });
  firings.set(id, list);
}

function firingsOf(id, kind) {
  return (firings.get(id) ?? []).filter((f) => f.kind === kind);
}

// CompatJsCounter keeps a counter in actor state and registers timers and
// reminders on itself when asked.
class CompatJsCounter extends AbstractActor {
  async add(n) {
    const [found, current] = await this.getStateManager().tryGetState("count");
    const count = (found ? current : 0) + n;
    await this.getStateManager().setState("count", count);
    return { count };
  }

  async get() {
    const [found, current] = await this.getStateManager().tryGetState("count");
    return { count: found ? current : 0 };
  }

  async fail() {
    throw new Error("failed on purpose");
  }

  async startTimer(marker) {
    await this.registerActorTimer("tick", "onTick", noDelay, period, undefined, marker);
  }

  async onTick(data) {
    record(this.getActorId().getId(), "timer", data);
  }

  async stopTimer() {
    await this.unregisterActorTimer("tick");
  }

  // The SDK hands receiveReminder String(data) for object data, so the
  // reminder's state is a plain string.
  async startReminder(marker) {
    await this.registerActorReminder("ping", noDelay, period, undefined, marker);
  }

  async receiveReminder(data) {
    record(this.getActorId().getId(), "reminder", data);
  }

  async stopReminder() {
    await this.unregisterActorReminder("ping");
  }
}

const server = new DaprServer({
  serverHost: host,
  serverPort: env("APP_PORT"),
  communicationProtocol: CommunicationProtocolEnum.HTTP,
  clientOptions: { daprHost: host, daprPort: hostHTTPPort, communicationProtocol: CommunicationProtocolEnum.HTTP, logger },
  logger,
});
await server.actor.registerActor(CompatJsCounter);
await server.actor.init();
await server.start();
await waitSidecarHealthy();

function callerClient(protocol) {
  const grpc = protocol === "grpc";
  return new DaprClient({
    daprHost: host,
    daprPort: grpc ? env("CALLER_GRPC_PORT") : env("CALLER_HTTP_PORT"),
    communicationProtocol: grpc ? CommunicationProtocolEnum.GRPC : CommunicationProtocolEnum.HTTP,
    logger,
  });
}

// actorState reads a key of the actor's state through sidecar H's HTTP API.
async function actorState(id, key) {
  const res = await fetch(`http://${host}:${hostHTTPPort}/v1.0/actors/CompatJsCounter/${id}/state/${key}`);
  const body = await res.text();
  return { status: res.status, body };
}

// waitReady retries a call until placement has told sidecar C where the
// actor type lives.
async function waitReady(builder) {
  const probe = builder.build(new ActorId(`probe-${randomUUID()}`));
  let last;
  try {
    await waitUntil(
      "actor CompatJsCounter callable through the caller sidecar",
      async () => {
        try {
          await probe.get();
          return true;
        } catch (e) {
          last = e;
          return false;
        }
      },
      30000,
    );
  } catch (e) {
    throw new Mismatch(`${e.message} (last error: ${show(last?.message ?? last)})`);
  }
}

async function waitFirings(id, kind, n) {
  return waitUntil(
    `${n} ${kind} callbacks for ${id} (have ${show(firingsOf(id, kind))})`,
    () => {
      const got = firingsOf(id, kind);
      return got.length >= n ? got : null;
    },
    30000,
  );
}

// checkQuiet checks no callback arrives over three periods after an
// unregister, once one already under way has landed.
async function checkQuiet(id, kind) {
  await sleep(1500);
  const before = firingsOf(id, kind).length;
  await sleep(3000);
  const after = firingsOf(id, kind).length;
  checkEqual(`${kind} callbacks after unregistering`, after - before, 0);
}

function scenarios(protocol, builder) {
  const id = (name) => new ActorId(`${name}-${protocol}-${randomUUID()}`);
  return {
    "invoke through the proxy": async () => {
      const a = builder.build(id("invoke"));
      checkEqual("add(2)", await a.add(2), { count: 2 });
      checkEqual("add(3)", await a.add(3), { count: 5 });
      checkEqual("get()", await a.get(), { count: 5 });
    },
    "state saved by the state manager": async () => {
      const actorId = id("state");
      const a = builder.build(actorId);
      await a.add(4);
      checkEqual("GET state count", await actorState(actorId.getId(), "count"), { status: 200, body: "4" });
      checkEqual("GET missing key", await actorState(actorId.getId(), "nothing"), { status: 204, body: "" });
    },
    "method error": async () => {
      const err = await failure("fail()", () => builder.build(id("fail")).fail());
      check(err instanceof Error, `fail() threw ${show(err)}, want an Error`);
    },
    "timer": async () => {
      const actorId = id("timer");
      const a = builder.build(actorId);
      const marker = `tick-${randomUUID()}`;
      await a.startTimer(marker);
      const got = await waitFirings(actorId.getId(), "timer", 2);
      for (const f of got) checkEqual("timer data", f.data, marker);
      await a.stopTimer();
      await checkQuiet(actorId.getId(), "timer");
    },
    "reminder": async () => {
      const actorId = id("reminder");
      const a = builder.build(actorId);
      const marker = `ping-${randomUUID()}`;
      await a.startReminder(marker);
      const got = await waitFirings(actorId.getId(), "reminder", 2);
      for (const f of got) checkEqual("reminder data", f.data, marker);
      await a.stopReminder();
      await checkQuiet(actorId.getId(), "reminder");
    },
  };
}

let failed = 0;
let total = 0;
for (const protocol of ["http", "grpc"]) {
  const client = callerClient(protocol);
  const builder = new ActorProxyBuilder(CompatJsCounter, client);
  try {
    await waitReady(builder);
  } catch (e) {
    failed++;
    total++;
    console.log(`FAIL ${protocol} ready: ${e.message}`);
    await client.stop();
    continue;
  }
  for (const [name, fn] of Object.entries(scenarios(protocol, builder))) {
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
  console.log(`${failed} of ${total} actor scenarios failed`);
  process.exit(1);
}
console.log(`all ${total} actor scenarios passed`);
process.exit(0);
