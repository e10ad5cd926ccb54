/**
 * A throw-away self-signed certificate for `--tls` (cryptofeed, like most production clients, refuses ws://), made
 * at start with `selfsigned` (P-256, valid 2 days) for localhost, 127.0.0.1 and the given names.
 */
import { isIP } from "node:net";
import { generate } from "selfsigned";

/** PEM key and certificate for `names` (DNS names or IP addresses). */
export async function selfSignedCert(names: readonly string[]): Promise<{ key: string; cert: string }> {
  const all = [...new Set(["localhost", "127.0.0.1", ...names])];
  const now = Date.now();
  const pems = await generate([{ name: "commonName", value: "tradesim local exchange" }], {
    keyType: "ec",
    curve: "P-256",
    algorithm: "sha256",
    notBeforeDate: new Date(now - 60_000),
    notAfterDate: new Date(now + 2 * 86_400_000),
    extensions: [
      { name: "basicConstraints", cA: false },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
      { name: "extKeyUsage", serverAuth: true },
      { name: "subjectAltName", altNames: all.map((n) => (isIP(n) ? { type: 7, ip: n } : { type: 2, value: n })) },
    ],
  });
  return { key: pems.private, cert: pems.cert };
}
