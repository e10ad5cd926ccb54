import { describe, expect, it } from "vitest";
import { formatConnectLine, formatRecvLine, parseCaptureLine } from "../src/okx/capture.js";
import { INST_ID_RE, OkxProtocolError, parseOkxMessage } from "../src/okx/protocol.js";
import { DATA, readCapture } from "../tools/lib/captures.js";

describe("parseOkxMessage", () => {
  it.each([
    ["pong", "pong", { kind: "pong" }],
    [
      "subscribe ack",
      '{"event":"subscribe","arg":{"channel":"books","instId":"BTC-USDT"},"connId":"a1"}',
      { kind: "subscribed", arg: { channel: "books", instId: "BTC-USDT" } },
    ],
    [
      "unsubscribe ack",
      '{"event":"unsubscribe","arg":{"channel":"books","instId":"BTC-USDT"}}',
      { kind: "unsubscribed", arg: { channel: "books", instId: "BTC-USDT" } },
    ],
    [
      "error",
      '{"event":"error","code":"60018","msg":"doesn\'t exist","connId":"a1"}',
      { kind: "error", code: "60018", msg: "doesn't exist" },
    ],
    [
      "notice 64008",
      '{"event":"notice","code":"64008","msg":"The connection will soon be closed for a service upgrade. Please reconnect.","connId":"a4d3ae55"}',
      {
        kind: "notice",
        code: "64008",
        msg: "The connection will soon be closed for a service upgrade. Please reconnect.",
      },
    ],
    [
      "books update with ids",
      '{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[["8476.98","415","0","13"]],"bids":[],"ts":"1597026383085","checksum":-855196043,"prevSeqId":123456,"seqId":123457}]}',
      {
        kind: "books",
        arg: { channel: "books", instId: "BTC-USDT" },
        action: "update",
        data: {
          asks: [["8476.98", "415", "0", "13"]],
          bids: [],
          ts: "1597026383085",
          checksum: -855196043,
          seqId: 123457,
          prevSeqId: 123456,
        },
      },
    ],
    ["unknown event", '{"event":"login","code":"0"}', { kind: "other", raw: { event: "login", code: "0" } }],
  ])("%s", (_n, text, want) => {
    expect(parseOkxMessage(text)).toEqual(want);
  });

  it.each([
    ["not JSON", "{oops"],
    [
      "truncated books push",
      '{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[["1","2"',
    ],
    ["array instead of object", "[1,2]"],
    ["books without data", '{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update"}'],
    [
      "books with bad action",
      '{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"delta","data":[{"asks":[],"bids":[],"ts":"1"}]}',
    ],
    [
      "levels not an array",
      '{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":{"a":1},"bids":[],"ts":"1"}]}',
    ],
    [
      "float seqId",
      '{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[],"bids":[],"ts":"1","seqId":1.5}]}',
    ],
    [
      "bad ts",
      '{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[],"bids":[],"ts":"yesterday"}]}',
    ],
  ])("rejects %s", (_n, text) => {
    expect(() => parseOkxMessage(text)).toThrow(OkxProtocolError);
  });

  it("parses every received message of the real captures without throwing", () => {
    let n = 0;
    for (const path of [DATA.okx20220227, DATA.okex20210722, DATA.okx20220513]) {
      for (const r of readCapture(path)) {
        if (r.kind !== "recv") continue;
        expect(() => parseOkxMessage(r.json)).not.toThrow();
        n++;
      }
    }
    expect(n).toBeGreaterThan(5000);
  });
});

describe("INST_ID_RE", () => {
  it.each(["BTC-USDT", "BTC-USDT-SWAP", "BTC-USD-220527", "BTC-USD-210924-66000-C", "1INCH-USDT"])(
    "accepts %s",
    (id) => {
      expect(INST_ID_RE.test(id)).toBe(true);
    },
  );
  it.each(["btc-usdt", "BTC", "BTC_USDT", "BTC-USDT-", "-BTC", "BTC-USDT SWAP", ""])("rejects %j", (id) => {
    expect(INST_ID_RE.test(id)).toBe(false);
  });
});

describe("capture line format", () => {
  it.each([
    [
      "wss://ws.okx.com:8443/ws/v5/public <-> 1652459224.5300605",
      { kind: "connect", url: "wss://ws.okx.com:8443/ws/v5/public", t: 1652459224.5300605 },
    ],
    [
      'wss://ws.okx.com:8443/ws/v5/public <- 1652459225.2987883: {"op":"subscribe"}',
      { kind: "sent", url: "wss://ws.okx.com:8443/ws/v5/public", t: 1652459225.2987883, json: '{"op":"subscribe"}' },
    ],
    [
      '1652459225.5037491: {"event":"subscribe"}',
      { kind: "recv", t: 1652459225.5037491, json: '{"event":"subscribe"}' },
    ],
    ["", null],
    ["garbage", null],
  ])("%j", (line, want) => {
    expect(parseCaptureLine(line)).toEqual(want);
  });

  it("round-trips what the recorder writes", () => {
    expect(parseCaptureLine(formatRecvLine(1700000000.123456, '{"a":1}'))).toEqual({
      kind: "recv",
      t: 1700000000.123456,
      json: '{"a":1}',
    });
    expect(parseCaptureLine(formatConnectLine("ws://127.0.0.1:8080/ws/v5/public", 1.5))).toEqual({
      kind: "connect",
      url: "ws://127.0.0.1:8080/ws/v5/public",
      t: 1.5,
    });
  });
});
