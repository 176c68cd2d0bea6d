// Resource indicators (RFC 8707) through openid-client: `resource` on client_credentials, and
// on the authorization request of a code flow (kept across a refresh), selects the access
// token's aud among the client's registered resources; any other is invalid_target.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { codeFlow, editDemoTenant, startDevServer } from './dev-server.mjs';

const orders = 'https://orders.example/';
let demo;

before(async () => {
  demo = await startDevServer(process.env.MERIDIAN_TEST_PORT_RESOURCE ?? '18547');
  const probe = () => fetch(`${demo.issuer}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`demo-client:${demo.secret}`).toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'api', resource: orders }),
  });
  await editDemoTenant(demo, (config) => {
    config.clients[0].resources = [orders];
  }, async () => (await probe()).status === 200);
});

after(() => demo?.stop());

async function discover() {
  return client.discovery(new URL(demo.issuer), 'demo-client', demo.secret, client.ClientSecretBasic(demo.secret), {
    execute: [client.allowInsecureRequests],
  });
}

const aud = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url')).aud;

test('client_credentials with a registered resource gets a token for it', async () => {
  const config = await discover();
  const tokens = await client.clientCredentialsGrant(config, { scope: 'api', resource: orders });
  assert.equal(aud(tokens.access_token), orders);
  const plain = await client.clientCredentialsGrant(config, { scope: 'api' });
  assert.equal(aud(plain.access_token), demo.issuer, 'the default audience without resource');
});

test('an unregistered resource is invalid_target', async () => {
  const config = await discover();
  await assert.rejects(
    client.clientCredentialsGrant(config, { scope: 'api', resource: 'https://evil.example/' }),
    (error) => error.error === 'invalid_target',
  );
});

test('a code flow for a resource issues tokens for it, also after a refresh', async () => {
  const config = await discover();
  const { tokens } = await codeFlow(client, config, demo.password, { extra: { resource: orders } });
  assert.equal(aud(tokens.access_token), orders);
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  assert.equal(aud(refreshed.access_token), orders);
  await assert.rejects(
    client.refreshTokenGrant(config, refreshed.refresh_token, { resource: 'https://evil.example/' }),
    (error) => error.error === 'invalid_target',
  );
});
