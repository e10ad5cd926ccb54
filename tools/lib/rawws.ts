/**
 * A minimal WebSocket client on a raw TCP socket (RFC 6455, client side, text frames, no extensions), for load
 * generators and tests that need what `ws` hides: thousands of connections from one process at low CPU cost,
 * frames handed over as Buffers without decoding, and the ability to stop reading at the TCP level
 * (`pause()`: the kernel's receive window fills and the server's writes back up, as with a stalled peer).
 */
import { randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";

export interface RawFrame {
  opcode: number;
  payload: Buffer;
}

export interface RawWs {
  readonly socket: Socket;
  /** Payload bytes of data frames received so far. */
  readonly received: () => number;
  /** The close frame's code, once one arrived (null before). */
  readonly closeCode: () => number | null;
  /** Send a text frame (masked, as a client must). */
  send(text: string): void;
  /** Stop reading from the socket (TCP backpressure reaches the server); `resume()` reads again. */
  pause(): void;
  resume(): void;
  close(): void;
}

/**
 * Connect to `ws://host:port/path` and complete the opening handshake; `onFrame` gets every complete frame
 * (opcode 1 text, 2 binary, 8 close, 9 ping, 10 pong; pings are answered). Rejects on a non-101 answer.
 */
export function openRawWs(
  url: string,
  onFrame: (f: RawFrame) => void,
  opts: { timeoutMs?: number } = {},
): Promise<RawWs> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: u.hostname, port: Number(u.port || 80) });
    socket.setNoDelay(true);
    const key = randomBytes(16).toString("base64");
    let buf: Buffer = Buffer.alloc(0);
    let open = false;
    let received = 0;
    let closeCode: number | null = null;
    const timer = setTimeout(() => fail(new Error(`handshake timed out: ${url}`)), opts.timeoutMs ?? 15_000);
    const fail = (e: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(e);
    };
    const write = (opcode: number, payload: Buffer) => {
      const mask = randomBytes(4);
      const len = payload.length;
      if (len > 0xffff) throw new Error("rawws sends frames up to 64 KiB (16-bit length) only");
      const head =
        len < 126
          ? Buffer.from([0x80 | opcode, 0x80 | len])
          : Buffer.from([0x80 | opcode, 0x80 | 126, len >> 8, len & 0xff]);
      const body = Buffer.allocUnsafe(len);
      for (let i = 0; i < len; i++) body[i] = payload[i]! ^ mask[i & 3]!;
      if (!socket.destroyed) socket.write(Buffer.concat([head, mask, body]));
    };
    const api: RawWs = {
      socket,
      received: () => received,
      closeCode: () => closeCode,
      send: (text) => write(1, Buffer.from(text)),
      pause: () => socket.pause(),
      resume: () => socket.resume(),
      close: () => {
        write(8, Buffer.from([0x03, 0xe8]));
        socket.end();
      },
    };
    socket.on("connect", () => {
      socket.write(
        `GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    socket.on("error", (e) => (open ? undefined : fail(e)));
    socket.on("data", (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      if (!open) {
        const end = buf.indexOf("\r\n\r\n");
        if (end < 0) return;
        const head = buf.subarray(0, end).toString();
        if (!/^HTTP\/1\.1 101/.test(head)) return fail(new Error(`upgrade refused: ${head.split("\r\n")[0]}`));
        open = true;
        clearTimeout(timer);
        buf = buf.subarray(end + 4);
        resolve(api);
      }
      // Frames (server frames are unmasked).
      for (;;) {
        if (buf.length < 2) return;
        const opcode = buf[0]! & 0x0f;
        let len = buf[1]! & 0x7f;
        let off = 2;
        if (len === 126) {
          if (buf.length < 4) return;
          len = buf.readUInt16BE(2);
          off = 4;
        } else if (len === 127) {
          if (buf.length < 10) return;
          len = Number(buf.readBigUInt64BE(2));
          off = 10;
        }
        if (buf.length < off + len) return;
        const payload = buf.subarray(off, off + len);
        buf = buf.subarray(off + len);
        if (opcode === 1 || opcode === 2) received += len;
        if (opcode === 8) closeCode = len >= 2 ? payload.readUInt16BE(0) : 1005;
        if (opcode === 9) write(10, Buffer.from(payload));
        onFrame({ opcode, payload });
      }
    });
  });
}
