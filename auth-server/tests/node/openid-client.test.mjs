// A second ecosystem's client against the real server binary started in --dev mode:
// discovery, client_credentials, and the authorization code flow with PKCE and nonce,
// logging in through the server's HTML form as a browser without JavaScript would.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { codeFlow, startDevServer } from './dev-server.mjs';

let demo;

async function discover() {
  return client.discovery(new URL(demo.issuer), 'demo-client', demo.secret, client.ClientSecretBasic(demo.secret), {
    execute: [client.allowInsecureRequests],
  });
}

before(async () => {
  demo = await startDevServer(process.env.MERIDIAN_TEST_PORT ?? '18543');
});

after(() => demo?.stop());

test('discovery matches the issuer and advertises PKCE S256', async () => {
  const config = await discover();
  const metadata = config.serverMetadata();
  assert.equal(metadata.issuer, demo.issuer);
  assert.deepEqual(metadata.code_challenge_methods_supported, ['S256']);
  assert.equal(metadata.authorization_response_iss_parameter_supported, true);
});

test('client_credentials issues an RFC 9068 access token', async () => {
  const config = await discover();
  const tokens = await client.clientCredentialsGrant(config, { scope: 'api' });
  assert.equal(tokens.token_type.toLowerCase(), 'bearer');
  const [header, payload] = tokens.access_token.split('.').slice(0, 2)
    .map((part) => JSON.parse(Buffer.from(part, 'base64url')));
  assert.equal(header.typ, 'at+jwt');
  assert.equal(payload.iss, demo.issuer);
  assert.equal(payload.client_id, 'demo-client');
  assert.equal(payload.tenant_id, 'demo');
});

test('authorization code flow with PKCE and nonce through the login form', async () => {
  const config = await discover();
  const { tokens, callback, nonce } = await codeFlow(client, config, demo.password);
  assert.equal(callback.searchParams.get('iss'), demo.issuer);
  const claims = tokens.claims();
  assert.equal(claims.sub, 'demo');
  assert.equal(claims.nonce, nonce);
  assert.ok(tokens.refresh_token, 'a refresh token for the confidential client');

  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  assert.equal(userinfo.email, 'demo@example.com');
});
