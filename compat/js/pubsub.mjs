// Pub/sub with the official Dapr JS SDK (@dapr/dapr): a DaprServer (HTTP)
// is the subscriber app behind sidecar S, and DaprClients over HTTP and gRPC
// publish through sidecar P. The sidecars share a pub/sub component.
//
// Usage: node pubsub.mjs
// Env: DAPR_HOST; PUBSUB_NAME; TOPIC_PREFIX (unique per run);
//      PUB_HTTP_PORT, PUB_GRPC_PORT (sidecar P); SUB_HTTP_PORT (sidecar S);
//      APP_PORT (S's --app-port, where this script's DaprServer listens).
// Prints one line per scenario and exits 1 if any scenario failed.

import { isDeepStrictEqual, inspect } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";
import { randomUUID } from "node:crypto";
import { DaprClient, DaprServer, CommunicationProtocolEnum, DaprPubSubStatusEnum, LogLevel } from "@dapr/dapr";

function env(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`missing environment variable ${name}`);
    process.exit(2);
  }
  return v;
}

const host = process.env.DAPR_HOST ?? "127.0.0.1";
const pubsubName = env("PUBSUB_NAME");
const prefix = env("TOPIC_PREFIX");
const subHTTPPort = env("SUB_HTTP_PORT");
const logger = { level: LogLevel.Error };
const topics = {
  events: `${prefix}js-events`,
  routed: `${prefix}js-routed`,
  retry: `${prefix}js-retry`,
  rules: `${prefix}js-rules`,
  bulk: `${prefix}js-bulk`,
};
const deliveryTimeout = 10000;

class Mismatch extends Error {}

function check(cond, msg) {
  if (!cond) throw new Mismatch(msg);
}

function checkEqual(what, got, want) {
  check(isDeepStrictEqual(got, want), `${what}: got ${inspect(got, { depth: 5 })}, want ${inspect(want, { depth: 5 })}`);
}

// got records every callback: which subscription, the data and headers.
const got = [];

function record(name, status) {
  return async (data, headers) => {
    got.push({ name, data, headers });
    return status ? status(data) : DaprPubSubStatusEnum.SUCCESS;
  };
}

// markerOf finds the marker in an object or a string payload.
function markerOf(data) {
  if (typeof data === "string") return data;
  return data?.marker ?? "";
}

// waitFor polls until n callbacks carry marker and returns them.
async function waitFor(what, marker, n = 1) {
  const deadline = Date.now() + deliveryTimeout;
  for (;;) {
    const hits = got.filter((g) => markerOf(g.data).includes(marker));
    if (hits.length >= n) return hits;
    if (Date.now() > deadline) {
      const seen = got.map((g) => `  ${g.name}: ${inspect(g.data)}`).join("\n") || "  nothing";
      throw new Mismatch(`${what}: ${hits.length} of ${n} deliveries after ${deliveryTimeout}ms; the app saw:\n${seen}`);
    }
    await sleep(10);
  }
}

// The retry subscription asks for redelivery of the first attempt of each
// marker.
const attempts = new Map();
function retryFirst(data) {
  const m = markerOf(data);
  attempts.set(m, (attempts.get(m) ?? 0) + 1);
  return attempts.get(m) === 1 ? DaprPubSubStatusEnum.RETRY : DaprPubSubStatusEnum.SUCCESS;
}

const server = new DaprServer({
  serverHost: host,
  serverPort: env("APP_PORT"),
  communicationProtocol: CommunicationProtocolEnum.HTTP,
  clientOptions: { daprHost: host, daprPort: subHTTPPort, communicationProtocol: CommunicationProtocolEnum.HTTP },
  logger,
});
await server.pubsub.subscribe(pubsubName, topics.events, record("events"));
await server.pubsub.subscribe(pubsubName, topics.routed, record("routed"), "custom-route");
await server.pubsub.subscribe(pubsubName, topics.retry, record("retry", retryFirst));
// Routing rules (the v2 "routes" shape of /dapr/subscribe), one callback
// per route.
await server.pubsub.subscribeWithOptions(pubsubName, topics.rules, {
  route: { rules: [{ match: `event.data.kind == "big"`, path: "big" }], default: "small" },
});
server.pubsub.subscribeToRoute(pubsubName, topics.rules, "big", record("rules-big"));
server.pubsub.subscribeToRoute(pubsubName, topics.rules, "small", record("rules-small"));
// Bulk subscription: the sidecar delivers batches the SDK splits into
// callbacks.
await server.pubsub.subscribeBulk(pubsubName, topics.bulk, record("bulk"), { maxMessagesCount: 10, maxAwaitDurationMs: 100 });
await server.start();
await waitAppReady();

// waitAppReady polls sidecar S's /v1.0/healthz: it answers 204 only once S
// has found this app's port.
async function waitAppReady() {
  const url = `http://${host}:${subHTTPPort}/v1.0/healthz`;
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

function checkPublished(what, res) {
  check(res && res.error === undefined, `${what}: publish failed: ${inspect(res?.error)}`);
}

function scenarios(protocol, client) {
  const mark = (what) => `${protocol}-${what}-${randomUUID()}`;
  return {
    async publishObject() {
      const data = { marker: mark("object"), order: { id: "o-1", items: ["a", "b"], total: 9.5 }, note: "ünïcode ✓" };
      checkPublished("publish(object)", await client.pubsub.publish(pubsubName, topics.events, data));
      const [hit] = await waitFor("publish(object)", data.marker);
      checkEqual("callback data of publish(object)", hit.data, data);
      checkEqual("subscription", hit.name, "events");
      checkEqual("pubsubname header", hit.headers["pubsubname"], pubsubName);
    },
    async publishString() {
      const data = `hello ${mark("string")}`;
      checkPublished("publish(string)", await client.pubsub.publish(pubsubName, topics.events, data));
      const [hit] = await waitFor("publish(string)", data);
      checkEqual("callback data of publish(string)", hit.data, data);
    },
    async customRoute() {
      const data = { marker: mark("route") };
      checkPublished("publish(routed)", await client.pubsub.publish(pubsubName, topics.routed, data));
      const hits = await waitFor("publish to a custom route", data.marker);
      checkEqual("subscriptions that got the routed event", hits.map((h) => h.name), ["routed"]);
      checkEqual("callback data of the routed event", hits[0].data, data);
    },
    async publishCloudEvent() {
      // A ready CloudEvent is published as application/cloudevents+json;
      // the callback gets its data.
      const data = { marker: mark("cloudevent"), n: 2 };
      const ce = { specversion: "1.0", id: randomUUID(), source: "compat-js", type: "compat.js", datacontenttype: "application/json", data };
      checkPublished("publish(CloudEvent)", await client.pubsub.publish(pubsubName, topics.events, ce));
      const [hit] = await waitFor("publish(CloudEvent)", data.marker);
      checkEqual("callback data of publish(CloudEvent)", hit.data, data);
    },
    async routingRules() {
      const big = { marker: mark("big"), kind: "big" };
      const small = { marker: mark("small"), kind: "small" };
      for (const data of [big, small]) {
        checkPublished("publish(rules)", await client.pubsub.publish(pubsubName, topics.rules, data));
      }
      for (const [data, want] of [[big, "rules-big"], [small, "rules-small"]]) {
        const hits = await waitFor(`routing of kind ${data.kind}`, data.marker);
        checkEqual(`routes that got kind ${data.kind}`, hits.map((h) => h.name), [want]);
        checkEqual(`callback data of kind ${data.kind}`, hits[0].data, data);
      }
    },
    async bulkSubscribe() {
      const msgs = [{ marker: mark("bulksub-1") }, { marker: mark("bulksub-2") }, `bulk text ${mark("bulksub-3")}`];
      const res = await client.pubsub.publishBulk(pubsubName, topics.bulk, msgs);
      check(res.failedMessages.length === 0, `publishBulk: failed messages ${inspect(res.failedMessages, { depth: 4 })}`);
      for (const data of msgs) {
        const hits = await waitFor("bulk subscription", markerOf(data));
        checkEqual("bulk subscription delivery", [hits[0].name, hits[0].data], ["bulk", data]);
        // For entries of a bulk request the SDK passes the entry's
        // metadata as headers; a single-event POST would bring HTTP
        // headers such as content-type.
        check(hits[0].headers["content-type"] === undefined, `bulk subscription: event came as a single POST (headers ${inspect(hits[0].headers)})`);
      }
    },
    async publishBulk() {
      const obj = { marker: mark("bulk-object"), n: 1 };
      const str = `bulk ${mark("bulk-string")}`;
      const res = await client.pubsub.publishBulk(pubsubName, topics.events, [obj, str]);
      check(res.failedMessages.length === 0, `publishBulk: failed messages ${inspect(res.failedMessages, { depth: 4 })}`);
      checkEqual("callback data of bulk object", (await waitFor("bulk object", obj.marker))[0].data, obj);
      checkEqual("callback data of bulk string", (await waitFor("bulk string", str))[0].data, str);
    },
    async retry() {
      const data = { marker: mark("retry") };
      checkPublished("publish(retry)", await client.pubsub.publish(pubsubName, topics.retry, data));
      const hits = await waitFor("redelivery after RETRY", data.marker, 2);
      checkEqual("redelivered data", hits[1].data, data);
    },
    async unknownPubsub() {
      // The HTTP client returns { error }, the gRPC client throws it.
      let res;
      try {
        res = await client.pubsub.publish(`no-such-${pubsubName}`, topics.events, { marker: mark("nowhere") });
      } catch (e) {
        res = e;
      }
      const err = res?.error;
      check(err !== undefined, `publish to an unknown pubsub: got ${inspect(res)}, want an error`);
      if (protocol === "grpc") {
        // ConnectError code 3 = InvalidArgument.
        checkEqual(`gRPC code of ${err.message}`, err.code, 3);
        return;
      }
      const info = JSON.parse(err.message);
      checkEqual("HTTP status", info.status, 404);
      checkEqual("errorCode", JSON.parse(info.error_msg).errorCode, "ERR_PUBSUB_NOT_FOUND");
    },
  };
}

let failed = 0;
let total = 0;
for (const protocol of ["http", "grpc"]) {
  const grpc = protocol === "grpc";
  const client = new DaprClient({
    daprHost: host,
    daprPort: grpc ? env("PUB_GRPC_PORT") : env("PUB_HTTP_PORT"),
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
  console.log(`${failed} of ${total} pub/sub scenarios failed`);
  process.exit(1);
}
console.log(`all ${total} pub/sub scenarios passed`);
process.exit(0);
