// Bindings with the official Dapr JS SDK (@dapr/dapr): client.binding.send
// over HTTP and gRPC to bindings.localstorage, and a DaprServer (HTTP)
// receiving bindings.cron events with server.binding.receive.
//
// Usage: node bindings.mjs
// Env: DAPR_HOST, DAPR_HTTP_PORT, DAPR_GRPC_PORT; APP_PORT (the sidecar's
//      --app-port, where this script's DaprServer listens); FILES_BINDING
//      and ROOT_PATH (the localstorage binding and its resolved rootPath);
//      CRON_BINDING (fires every second); RUN (unique per run).
// Prints one line per scenario and exits 1 if any scenario failed.

import fs from "node:fs";
import path from "node:path";
import { DaprServer, CommunicationProtocolEnum } from "@dapr/dapr";
import {
  host, logger, env, check, checkEqual, show, failure, checkHTTPError, checkGRPCError, waitUntil, waitSidecarHealthy, run,
} from "./lib.mjs";

const files = env("FILES_BINDING");
const root = env("ROOT_PATH");
const cron = env("CRON_BINDING");
const runID = env("RUN");

// cronCalls records the DaprServer's binding callbacks.
const cronCalls = [];
const server = new DaprServer({
  serverHost: host,
  serverPort: env("APP_PORT"),
  communicationProtocol: CommunicationProtocolEnum.HTTP,
  clientOptions: { daprHost: host, daprPort: env("DAPR_HTTP_PORT"), communicationProtocol: CommunicationProtocolEnum.HTTP },
  logger,
});
await server.binding.receive(cron, async (body) => {
  cronCalls.push({ at: Date.now(), body });
});
await server.start();
await waitSidecarHealthy();

// text is the answer's data as a string: the HTTP client hands over the
// body (parsed when it is JSON), the gRPC client { data: bytes, … }.
function text(protocol, res) {
  if (protocol === "grpc") return Buffer.from(res.data).toString("utf8");
  return typeof res === "string" ? res : JSON.stringify(res);
}

function fileContent(name) {
  return fs.readFileSync(path.join(root, name), "utf8");
}

function scenarios(protocol, client) {
  const name = (what) => `${protocol}-${what}-${runID}`;
  const send = (op, data, metadata) => client.binding.send(files, op, data, metadata);
  const list = {
    async createGetDelete() {
      const f = name("text");
      const created = await send("create", "hello js ✓", { fileName: f });
      checkEqual("create answer", JSON.parse(text(protocol, created)), { fileName: f });
      // HTTP sends the JSON string "hello js ✓", which the binding unquotes;
      // gRPC sends its bytes.
      checkEqual("file written by create", fileContent(f), "hello js ✓");
      checkEqual("get", text(protocol, await send("get", undefined, { fileName: f })), "hello js ✓");
      await send("delete", undefined, { fileName: f });
      check(!fs.existsSync(path.join(root, f)), `delete left ${f} in place`);
    },
    async createObject() {
      const f = name("object");
      const data = { order: 7, items: ["a", "b"], note: "ünïcode" };
      await send("create", data, { fileName: f });
      checkEqual("file written for an object", JSON.parse(fileContent(f)), data);
    },
    async list() {
      const dir = name("dir");
      fs.mkdirSync(path.join(root, dir));
      for (const n of ["one", "two"]) await send("create", n, { fileName: `${dir}/${n}` });
      const got = JSON.parse(text(protocol, await send("list", undefined, { fileName: dir })));
      checkEqual("list", [...got].sort(), [path.join(root, dir, "one"), path.join(root, dir, "two")]);
    },
    async unknownBinding() {
      const err = await failure("send to an unknown binding", () => client.binding.send("no-such-binding", "create", "x"));
      if (protocol === "grpc") {
        checkGRPCError("send to an unknown binding", err, 13); // Internal
        return;
      }
      checkHTTPError("send to an unknown binding", err, 500, "ERR_INVOKE_OUTPUT_BINDING");
    },
  };
  if (protocol === "http") {
    // The input binding does not depend on the client's protocol: check it
    // once, after the other scenarios had time to see events come in.
    list.cronReceive = async () => {
      await waitUntil("two cron events", () => cronCalls.length >= 2);
      const gap = cronCalls[1].at - cronCalls[0].at;
      check(gap >= 500, `two events of an @every 1s schedule came ${gap}ms apart: ${show(cronCalls)}`);
    };
  }
  return list;
}

const code = await run("bindings", ["http", "grpc"], scenarios);
await server.stop();
process.exit(code);
