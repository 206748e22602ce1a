// State and metadata scenarios run with the official Dapr JS SDK
// (@dapr/dapr) against a running sidecar.
//
// Usage: node state.mjs http|grpc
// Env: DAPR_HOST, DAPR_HTTP_PORT, DAPR_GRPC_PORT (where the sidecar listens),
//      STORE_NAME, STORE_TYPE (its state component), APP_ID,
//      EXPECT_CAPABILITIES (comma-separated capabilities the component must list).
// Prints one line per scenario and exits 1 if any scenario failed.

import { isDeepStrictEqual, inspect } from "node:util";
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import {
  DaprClient,
  CommunicationProtocolEnum,
  LogLevel,
  StateConcurrencyEnum,
} from "@dapr/dapr";

const protocol = process.argv[2];
if (protocol !== "http" && protocol !== "grpc") {
  console.error("usage: node state.mjs http|grpc");
  process.exit(2);
}
const grpc = protocol === "grpc";

function env(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`missing environment variable ${name}`);
    process.exit(2);
  }
  return v;
}

const store = env("STORE_NAME");
const storeType = env("STORE_TYPE");
const appID = env("APP_ID");
const expectCaps = (process.env.EXPECT_CAPABILITIES ?? "").split(",").filter(Boolean);
const client = new DaprClient({
  daprHost: process.env.DAPR_HOST ?? "127.0.0.1",
  daprPort: grpc ? env("DAPR_GRPC_PORT") : env("DAPR_HTTP_PORT"),
  communicationProtocol: grpc ? CommunicationProtocolEnum.GRPC : CommunicationProtocolEnum.HTTP,
  logger: { level: LogLevel.Error },
});

// Keys are unique per run so the HTTP and gRPC runs can share a sidecar.
const run = `js-${protocol}-${randomBytes(4).toString("hex")}`;

class Mismatch extends Error {}

function check(cond, msg) {
  if (!cond) throw new Mismatch(msg);
}

function checkEqual(what, got, want) {
  check(isDeepStrictEqual(got, want), `${what}: got ${inspect(got, { depth: 5 })}, want ${inspect(want, { depth: 5 })}`);
}

// A missing key reads as "" over both protocols (HTTP 204 / empty bytes).
async function checkAbsent(key) {
  checkEqual(`get(${key}) of a missing key`, await client.state.get(store, key), "");
}

// The SDK reports some failures by throwing and others (HTTP save/delete)
// by returning {error}; outcome folds both into "the error, or null".
async function outcome(fn) {
  try {
    const res = await fn();
    return res?.error ?? null;
  } catch (e) {
    return e;
  }
}

// checkFailed checks the error carries Dapr's status: the gRPC code for
// gRPC, the HTTP status and errorCode for HTTP.
function checkFailed(what, err, want) {
  check(err, `${what}: succeeded, want ${grpc ? `gRPC code ${want.grpc}` : `HTTP ${want.status} ${want.errorCode}`}`);
  if (grpc) {
    check(err.code === want.grpc, `${what}: gRPC code ${err.code} (${err.message}), want ${want.grpc}`);
    return;
  }
  let info;
  try {
    info = JSON.parse(err.message);
  } catch {
    throw new Mismatch(`${what}: unexpected error ${err}`);
  }
  let body = {};
  try {
    body = JSON.parse(info.error_msg);
  } catch {
    // Reported below with the raw body.
  }
  check(
    info.status === want.status && body.errorCode === want.errorCode,
    `${what}: HTTP ${info.status} body ${info.error_msg}, want HTTP ${want.status} errorCode ${want.errorCode}`,
  );
}

// getBulk is the only SDK read that exposes etags.
async function etagOf(key) {
  const [item] = await client.state.getBulk(store, [key]);
  check(item?.etag, `getBulk([${key}]) returned no etag: ${inspect(item)}`);
  return item.etag;
}

// The gRPC client sends transaction values with Buffer.from(value), so it
// only accepts strings; HTTP sends JSON. Both store the same document.
function txValue(obj) {
  return grpc ? JSON.stringify(obj) : obj;
}

// Query data is parsed JSON over HTTP and raw bytes over gRPC.
function queryData(data) {
  return data instanceof Uint8Array ? JSON.parse(Buffer.from(data).toString()) : data;
}

const etagMismatchSave = { grpc: 10, status: 409, errorCode: "ERR_STATE_SAVE" };
const etagMismatchDelete = { grpc: 10, status: 409, errorCode: "ERR_STATE_DELETE" };
const txFailed = { grpc: 13, status: 500, errorCode: "ERR_STATE_TRANSACTION" };

async function saveGetDelete() {
  const k = `${run}-crud`;
  const doc = { a: 1, s: "x", nested: { list: [1, "two", null] } };
  checkEqual("save", await client.state.save(store, [{ key: k, value: doc }]), {});
  checkEqual(`get(${k})`, await client.state.get(store, k), doc);
  await client.state.save(store, [{ key: k, value: "plain string" }]);
  checkEqual(`get(${k}) after overwrite`, await client.state.get(store, k), "plain string");
  checkEqual("delete", await client.state.delete(store, k), {});
  await checkAbsent(k);
  checkEqual("delete of a missing key", await client.state.delete(store, k), {});
}

async function bulk() {
  const p = `${run}-bulk-`;
  const want = { [`${p}a`]: "A", [`${p}b`]: { b: 2 }, [`${p}c`]: [3] };
  const res = await client.state.save(store, Object.entries(want).map(([key, value]) => ({ key, value })));
  checkEqual("bulk save", res, {});
  const keys = [...Object.keys(want), `${p}missing`];
  const items = await client.state.getBulk(store, keys, { parallelism: 2 });
  checkEqual("getBulk keys", items.map((i) => i.key).sort(), [...keys].sort());
  for (const it of items) {
    if (it.key in want) {
      checkEqual(`getBulk item ${it.key} data`, it.data, want[it.key]);
      check(it.etag, `getBulk item ${it.key} has no etag`);
    } else {
      // HTTP omits data for a missing key; the gRPC client turns empty bytes into "".
      check(it.data === undefined || it.data === "", `getBulk missing key ${it.key} data = ${inspect(it.data)}`);
      check(!it.etag, `getBulk missing key ${it.key} etag = ${inspect(it.etag)}`);
    }
  }
}

async function etag() {
  const k = `${run}-etag`;
  await client.state.save(store, [{ key: k, value: "v1" }]);
  const e1 = await etagOf(k);
  checkEqual("save with the current etag", await client.state.save(store, [{ key: k, value: "v2", etag: e1 }]), {});
  const e2 = await etagOf(k);
  check(e2 !== e1, `etag did not change on update: ${e1}`);

  const staleSave = await outcome(() => client.state.save(store, [{ key: k, value: "v3", etag: e1 }]));
  checkFailed("save with a stale etag", staleSave, etagMismatchSave);
  checkEqual(`get(${k}) after refused save`, await client.state.get(store, k), "v2");

  const staleDelete = await outcome(() => client.state.delete(store, k, { etag: e1 }));
  checkFailed("delete with a stale etag", staleDelete, etagMismatchDelete);
  checkEqual(`get(${k}) after refused delete`, await client.state.get(store, k), "v2");

  checkEqual("delete with the current etag", await client.state.delete(store, k, { etag: e2 }), {});
  await checkAbsent(k);
}

async function firstWrite() {
  const k = `${run}-fw`;
  const options = { concurrency: StateConcurrencyEnum.CONCURRENCY_FIRST_WRITE };
  checkEqual("first-write save of a new key", await client.state.save(store, [{ key: k, value: "v1", options }]), {});
  const again = await outcome(() => client.state.save(store, [{ key: k, value: "v2", options }]));
  checkFailed("first-write save without etag over an existing key", again, etagMismatchSave);
  checkEqual(`get(${k})`, await client.state.get(store, k), "v1");
  const e = await etagOf(k);
  const res = await client.state.save(store, [{ key: k, value: "v3", etag: e, options }]);
  checkEqual("first-write save with the current etag", res, {});
  checkEqual(`get(${k})`, await client.state.get(store, k), "v3");
}

async function transaction() {
  const p = `${run}-tx-`;
  await client.state.save(store, [{ key: `${p}a`, value: "seed" }, { key: `${p}gone`, value: "seed" }]);
  await client.state.transaction(store, [
    { operation: "upsert", request: { key: `${p}a`, value: txValue({ v: "a1" }) } },
    { operation: "upsert", request: { key: `${p}b`, value: txValue({ v: "b1" }) } },
    { operation: "delete", request: { key: `${p}gone` } },
  ]);
  checkEqual(`get(${p}a)`, await client.state.get(store, `${p}a`), { v: "a1" });
  checkEqual(`get(${p}b)`, await client.state.get(store, `${p}b`), { v: "b1" });
  await checkAbsent(`${p}gone`);

  const stale = await etagOf(`${p}a`);
  await client.state.save(store, [{ key: `${p}a`, value: { v: "a2" } }]);
  const err = await outcome(() =>
    client.state.transaction(store, [
      { operation: "upsert", request: { key: `${p}b`, value: txValue({ v: "b2" }) } },
      { operation: "upsert", request: { key: `${p}a`, value: txValue({ v: "a3" }), etag: stale } },
    ]),
  );
  checkFailed("transaction with a stale etag", err, txFailed);
  checkEqual(`get(${p}a) after failed transaction`, await client.state.get(store, `${p}a`), { v: "a2" });
  checkEqual(`get(${p}b) after failed transaction`, await client.state.get(store, `${p}b`), { v: "b1" });
}

async function query() {
  const docs = {
    k1: { run, city: "Oslo", n: 1, person: { org: "dev" } },
    k2: { run, city: "Lima", n: 2, person: { org: "ops" } },
    k3: { run, city: "Oslo", n: 3, person: { org: "ops" } },
    k4: { run, city: "Kyiv", n: 4, person: { org: "dev" } },
    k5: { run, city: "Lima", n: 5, person: { org: "dev" } },
  };
  const items = Object.entries(docs).map(([k, value]) => ({ key: `${run}-${k}`, value }));
  items.push({ key: `${run}-decoy`, value: { run: "other", city: "Oslo", n: 9 } });
  // Over gRPC the value is bytes; daprd keeps it as a JSON document, which
  // the query API searches, only when the item says contentType JSON.
  const asJSON = { metadata: { contentType: "application/json" } };
  checkEqual("save query documents", await client.state.save(store, items, asJSON), {});
  const runEQ = { EQ: { run } };

  const cases = [
    { name: "EQ", filter: { AND: [runEQ, { EQ: { city: "Oslo" } }] }, want: ["k1", "k3"] },
    { name: "EQ nested", filter: { AND: [runEQ, { EQ: { "person.org": "ops" } }] }, want: ["k2", "k3"] },
    { name: "IN", filter: { AND: [runEQ, { IN: { city: ["Lima", "Kyiv"] } }] }, want: ["k2", "k4", "k5"] },
    {
      name: "OR",
      filter: { AND: [runEQ, { OR: [{ EQ: { city: "Kyiv" } }, { EQ: { "person.org": "ops" } }] }] },
      want: ["k2", "k3", "k4"],
    },
    { name: "sort DESC", filter: runEQ, sort: [{ key: "n", order: "DESC" }], want: ["k5", "k4", "k3", "k2", "k1"] },
  ];
  for (const c of cases) {
    const q = { filter: c.filter, ...(c.sort ? { sort: c.sort } : {}) };
    const res = await client.state.query(store, q);
    const keys = res.results.map((r) => r.key);
    for (const r of res.results) {
      const suffix = r.key.slice(run.length + 1);
      checkEqual(`query ${c.name}: data of ${r.key}`, queryData(r.data), docs[suffix]);
      check(r.etag, `query ${c.name}: result ${r.key} has no etag`);
    }
    const want = c.want.map((s) => `${run}-${s}`);
    checkEqual(`query ${c.name} ${JSON.stringify(q)} keys`, c.sort ? keys : keys.sort(), want);
  }

  // Paging: limit 2 over five documents, following the tokens.
  const seen = [];
  let token;
  let pages = 0;
  for (; pages < 10; ) {
    const page = token ? { limit: 2, token } : { limit: 2 };
    const res = await client.state.query(store, { filter: runEQ, sort: [{ key: "n" }], page });
    pages++;
    check(res.results.length <= 2, `page ${pages} has ${res.results.length} results, limit 2`);
    seen.push(...res.results.map((r) => r.key));
    if (!res.token || res.results.length === 0) break;
    check(res.token !== token, `page ${pages} repeated token ${token}`);
    token = res.token;
  }
  checkEqual("paged query keys", seen, ["k1", "k2", "k3", "k4", "k5"].map((s) => `${run}-${s}`));
  check(pages >= 3, `paged query took ${pages} pages, want at least 3`);
}

async function metadata() {
  const md = await client.metadata.get();
  checkEqual("metadata id", md.id, appID);
  const comp = (md.components ?? []).find((c) => c.name === store);
  check(comp, `metadata components ${inspect(md.components)} do not list ${store}`);
  checkEqual(`component ${store} type/version`, [comp.type, comp.version], [storeType, "v1"]);
  for (const cap of expectCaps) {
    check((comp.capabilities ?? []).includes(cap), `component ${store} capabilities ${inspect(comp.capabilities)} lack ${cap}`);
  }
  const key = `compat-${run}`;
  const value = "js value/with:odd chars";
  checkEqual("metadata.set", await client.metadata.set(key, value), true);
  const after = await client.metadata.get();
  checkEqual(`extended[${key}]`, after.extended?.[key], value);
}

async function ttl() {
  const k = `${run}-ttl`;
  const start = Date.now();
  const res = await client.state.save(store, [{ key: k, value: "bye" }], { metadata: { ttlInSeconds: "1" } });
  checkEqual("save with ttlInSeconds=1", res, {});
  checkEqual(`get(${k}) right after save`, await client.state.get(store, k), "bye");
  while ((await client.state.get(store, k)) !== "") {
    check(Date.now() - start < 5000, `key with ttlInSeconds=1 still readable after ${Date.now() - start}ms`);
    await sleep(100);
  }
  check(Date.now() - start >= 900, `key with ttlInSeconds=1 vanished after only ${Date.now() - start}ms`);
}

const scenarios = { saveGetDelete, bulk, etag, firstWrite, transaction, query, metadata, ttl };

let failed = 0;
for (const [name, fn] of Object.entries(scenarios)) {
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
if (failed > 0) {
  console.log(`${failed} of ${Object.keys(scenarios).length} scenarios failed (${protocol}, ${storeType})`);
  process.exit(1);
}
console.log(`all ${Object.keys(scenarios).length} scenarios passed (${protocol}, ${storeType})`);
