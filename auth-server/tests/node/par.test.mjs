// Pushed authorization requests (RFC 9126) through openid-client: buildAuthorizationUrlWithPAR
// pushes the request and the code flow completes through its request_uri, which is good once;
// a client that requires pushing gets nothing from a plain authorization request.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { codeFlow, editDemoTenant, redirectUri, startDevServer } from './dev-server.mjs';

let demo;

before(async () => {
  demo = await startDevServer(process.env.MERIDIAN_TEST_PORT_PAR ?? '18548');
  const plain = new URL(`${demo.issuer}/authorize`);
  plain.search = new URLSearchParams({ response_type: 'code', client_id: 'demo-client', redirect_uri: redirectUri, scope: 'openid' });
  await editDemoTenant(demo, (config) => {
    config.clients[0].requirePushedAuthorizationRequests = true;
  }, async () => (await fetch(plain, { redirect: 'manual' })).status === 303);
});

after(() => demo?.stop());

async function discover() {
  return client.discovery(new URL(demo.issuer), 'demo-client', demo.secret, client.ClientSecretBasic(demo.secret), {
    execute: [client.allowInsecureRequests],
  });
}

test('discovery names the pushed authorization request endpoint', async () => {
  const metadata = (await discover()).serverMetadata();
  assert.equal(metadata.pushed_authorization_request_endpoint, `${demo.issuer}/par`);
});

test('a pushed request completes the code flow, and its request_uri is good once', async () => {
  const config = await discover();
  const { tokens, url } = await codeFlow(client, config, demo.password, { par: true });
  assert.ok(url.searchParams.get('request_uri').startsWith('urn:ietf:params:oauth:request_uri:'));
  assert.equal(url.searchParams.get('redirect_uri'), null, 'the browser carries only the handle');
  assert.equal(tokens.claims().sub, 'demo');
  const again = await fetch(url, { redirect: 'manual' });
  assert.equal(again.status, 400);
  assert.equal(again.headers.get('location'), null);
});

test('a client that requires pushing gets invalid_request for a plain authorization request', async () => {
  const config = await discover();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid',
    code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
    state: 'plain',
  });
  const answer = await fetch(url, { redirect: 'manual' });
  const back = new URL(answer.headers.get('location'));
  assert.equal(back.searchParams.get('error'), 'invalid_request');
  assert.equal(back.searchParams.get('code'), null);
});
