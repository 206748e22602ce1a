// Configuration with the official Dapr JS SDK (@dapr/dapr) over gRPC (its
// HTTP client does not implement configuration): client.configuration.get,
// subscribeWithKeys and the subscription's stop, against
// configuration.redis.
//
// Usage: node configuration.mjs
// Env: DAPR_HOST, DAPR_GRPC_PORT; STORE_NAME; KEY_PREFIX (the test's keys:
//      <prefix>a = "value-a||1", <prefix>b = "value b ✓"); REDIS_ADDR
//      (host:port, to change items).
// Prints one line per scenario and exits 1 if any scenario failed.

import net from "node:net";
import { isDeepStrictEqual } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";
import { env, check, checkEqual, show, failure, checkGRPCError, waitUntil, run } from "./lib.mjs";

const store = env("STORE_NAME");
const p = env("KEY_PREFIX");
const [redisHost, redisPort] = env("REDIS_ADDR").split(":");

// redisSet runs SET key value: just enough RESP to change an item.
function redisSet(key, value) {
  const args = ["SET", key, value].map((a) => Buffer.from(a));
  const cmd = Buffer.concat([
    Buffer.from(`*${args.length}\r\n`),
    ...args.flatMap((a) => [Buffer.from(`$${a.length}\r\n`), a, Buffer.from("\r\n")]),
  ]);
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(redisPort), redisHost, () => sock.write(cmd));
    sock.setTimeout(5000, () => sock.destroy(new Error("redis: timeout")));
    sock.once("data", (d) => {
      sock.end();
      const line = d.toString();
      line.startsWith("+OK") ? resolve() : reject(new Error(`redis SET ${key}: ${line.trim()}`));
    });
    sock.once("error", reject);
  });
}

// item is what the SDK makes of a ConfigurationItem.
function item(key, value, version) {
  return { key, value, version, metadata: {} };
}

function scenarios(protocol, client) {
  return {
    async get() {
      const res = await client.configuration.get(store, [`${p}a`, `${p}b`, `${p}missing`]);
      checkEqual("configuration.get(a, b, missing)", res.items, {
        [`${p}a`]: item(`${p}a`, "value-a", "1"),
        [`${p}b`]: item(`${p}b`, "value b ✓", ""),
      });
    },
    async subscribe() {
      const got = [];
      const sub = await client.configuration.subscribeWithKeys(store, [`${p}a`, `${p}b`], (res) => {
        got.push(res.items);
      });
      try {
        // The SDK starts the stream in the background; give the sidecar
        // time to register the subscription with Redis, then change a
        // until an update comes (a change before registration is lost).
        const sent = [];
        await waitUntil("an update after SET a", async () => {
          if (got.length > 0) return true;
          const n = sent.length + 2;
          sent.push(item(`${p}a`, `value-a${n}`, String(n)));
          await redisSet(`${p}a`, `value-a${n}||${n}`);
          await sleep(200);
          return got.length > 0;
        });
        const a = got[0][`${p}a`];
        check(sent.some((s) => isDeepStrictEqual(s, a)), `first update: got ${show(got[0])}, want ${p}a as one of ${show(sent)}`);
        await redisSet(`${p}b`, "value-b2||7");
        await waitUntil("the update of b", () => got.some((g) => g[`${p}b`]));
        checkEqual("update of b", got.find((g) => g[`${p}b`])[`${p}b`], item(`${p}b`, "value-b2", "7"));
      } finally {
        await sub.stop();
      }
      const n = got.length;
      await redisSet(`${p}a`, "value-after-stop||99");
      await sleep(500);
      checkEqual("updates after stop()", got.slice(n), []);
    },
    async subscribeAll() {
      // Without keys the subscription covers every key of the store
      // (other tests' keys may show up too: only this test's are checked).
      const got = [];
      const sub = await client.configuration.subscribe(store, (res) => {
        got.push(res.items);
      });
      const key = `${p}all`;
      const sent = [];
      try {
        await waitUntil(`an update for ${key}`, async () => {
          if (got.some((g) => g[key])) return true;
          const n = sent.length + 1;
          sent.push(item(key, `value-all${n}`, String(n)));
          await redisSet(key, `value-all${n}||${n}`);
          await sleep(200);
          return got.some((g) => g[key]);
        });
      } finally {
        await sub.stop();
      }
      const a = got.find((g) => g[key])[key];
      check(sent.some((s) => isDeepStrictEqual(s, a)), `update of ${key}: got ${show(a)}, want one of ${show(sent)}`);
    },
    async unknownStore() {
      const err = await failure("configuration.get(unknown store)", () => client.configuration.get("no-such-store", ["k"]));
      checkGRPCError("configuration.get(unknown store)", err, 3); // InvalidArgument
    },
  };
}

process.exit(await run("configuration", ["grpc"], scenarios));
