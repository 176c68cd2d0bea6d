// CORS seen through openid-client: every request it makes (discovery, token, userinfo,
// revocation) carries the Origin a browser page would send, and each answer must allow exactly
// an origin the client registered. The demo client registers http://127.0.0.1:9999/callback, so
// its pages live on http://127.0.0.1:9999; a page of any other origin must be allowed nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { codeFlow, startDevServer } from './dev-server.mjs';

const registered = 'http://127.0.0.1:9999';
const stranger = 'https://evil.example';
let demo;

before(async () => {
  demo = await startDevServer(process.env.MERIDIAN_TEST_PORT_CORS ?? '18544');
});

after(() => demo?.stop());

/// A fetch that sends `origin` and records, per endpoint path, what the answer allowed.
function fromOrigin(origin) {
  const allowed = new Map();
  const customFetch = async (url, options) => {
    const response = await fetch(url, { ...options, headers: { ...options.headers, origin } });
    allowed.set(new URL(url).pathname.split('/').pop(), response.headers.get('access-control-allow-origin'));
    return response;
  };
  return { allowed, customFetch };
}

async function flowFrom(origin) {
  const seen = fromOrigin(origin);
  const config = await client.discovery(new URL(demo.issuer), 'demo-client', demo.secret,
    client.ClientSecretBasic(demo.secret),
    { execute: [client.allowInsecureRequests], [client.customFetch]: seen.customFetch });
  config[client.customFetch] = seen.customFetch;
  const { tokens } = await codeFlow(client, config, demo.password);
  await client.fetchUserInfo(config, tokens.access_token, tokens.claims().sub);
  await client.tokenRevocation(config, tokens.refresh_token);
  return seen.allowed;
}

test('a page on a registered origin may read discovery, token, userinfo and revocation', async () => {
  const allowed = await flowFrom(registered);
  for (const endpoint of ['openid-configuration', 'token', 'userinfo', 'revoke']) {
    assert.equal(allowed.get(endpoint), registered, endpoint);
  }
});

test('a page on an unregistered origin is allowed nothing, though the flow itself works', async () => {
  const allowed = await flowFrom(stranger);
  for (const endpoint of ['openid-configuration', 'token', 'userinfo', 'revoke']) {
    assert.ok(allowed.has(endpoint), `${endpoint} was called`);
    assert.equal(allowed.get(endpoint), null, endpoint);
  }
});

test('the token endpoint answers a preflight from a registered origin only', async () => {
  const preflight = (origin) => fetch(`${demo.issuer}/token`, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' },
  });
  const ok = await preflight(registered);
  assert.equal(ok.headers.get('access-control-allow-origin'), registered);
  assert.match(ok.headers.get('access-control-allow-headers'), /authorization/);
  const refused = await preflight(stranger);
  assert.equal(refused.headers.get('access-control-allow-origin'), null);
});

test('the JWKS is readable from a registered origin only, and varies by origin', async () => {
  const jwks = (origin) => fetch(`${demo.issuer}/jwks.json`, { headers: { origin } });
  const ok = await jwks(registered);
  assert.equal(ok.headers.get('access-control-allow-origin'), registered);
  assert.equal(ok.headers.get('vary'), 'origin');
  assert.equal((await jwks(stranger)).headers.get('access-control-allow-origin'), null);
});
