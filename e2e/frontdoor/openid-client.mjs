// panva's openid-client, given only the issuer URL (the front door), as a machine client
// would be configured: discovery, then client_credentials with the confidential client
// (openid-client's code flow at the issuer URL, with Chromium signing the user in, is
// e2e/browser/openid-client-code-flow.mjs). Prints one JSON line with what it observed; run by
// e2e/tests/scenarios/front_door.rs.
//
// Environment: ISSUER, CLIENT_ID, CLIENT_SECRET.
import * as client from 'openid-client';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const issuer = new URL(env('ISSUER'));
const insecure = { execute: [client.allowInsecureRequests] };

const machine = await client.discovery(issuer, env('CLIENT_ID'), env('CLIENT_SECRET'),
  client.ClientSecretBasic(env('CLIENT_SECRET')), insecure);
const metadata = machine.serverMetadata();
const cc = await client.clientCredentialsGrant(machine, { scope: 'orders:read' });

const payload = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url'));

console.log(JSON.stringify({
  issuer: metadata.issuer,
  tokenEndpoint: metadata.token_endpoint,
  jwksUri: metadata.jwks_uri,
  clientCredentials: { tokenType: cc.token_type, claims: payload(cc.access_token) },
}));
