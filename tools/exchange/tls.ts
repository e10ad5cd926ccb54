/**
 * A throw-away self-signed certificate for `--tls` (cryptofeed, like most production clients, refuses ws://).
 * Made at start with the `openssl` command line (present on Linux and macOS; Node's crypto can sign but cannot
 * build an X.509 certificate), valid for 2 days for localhost, 127.0.0.1 and the given names.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { isIP } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** PEM key and certificate for `names` (DNS names or IP addresses). */
export function selfSignedCert(names: readonly string[]): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), "tradesim-tls-"));
  try {
    const all = [...new Set(["localhost", "127.0.0.1", ...names])];
    const san = all.map((n) => (isIP(n) ? `IP:${n}` : `DNS:${n}`)).join(",");
    execFileSync(
      "openssl",
      ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", "/CN=tradesim local exchange",
        "-addext", `subjectAltName=${san}`, "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")],
      { stdio: "pipe" },
    );
    return { key: readFileSync(join(dir, "key.pem"), "utf8"), cert: readFileSync(join(dir, "cert.pem"), "utf8") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
