// Verifies a Coffer access token with jose (a JOSE library Coffer did not write) against the
// server's published keys, fetched from /.well-known/jwks.json as any relying party would.
// Usage: COFFER_ADDR=http://127.0.0.1:PORT node verify_token.mjs < token
// Prints the verified header and payload as one JSON line; exits 1 when verification fails.
import { createRemoteJWKSet, jwtVerify } from "jose";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const token = Buffer.concat(chunks).toString("utf8").trim();
const jwks = createRemoteJWKSet(new URL("/.well-known/jwks.json", process.env.COFFER_ADDR));
try {
  const { payload, protectedHeader } = await jwtVerify(token, jwks, {
    issuer: "coffer",
    algorithms: ["EdDSA"],
  });
  console.log(JSON.stringify({ header: protectedHeader, payload }));
} catch (err) {
  // The error's code only: never the token.
  console.log(JSON.stringify({ error: err.code ?? err.name }));
  process.exit(1);
}
