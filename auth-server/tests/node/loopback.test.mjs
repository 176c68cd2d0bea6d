// RFC 8252 §7.3 through openid-client, as a native app runs it: the app listens on an
// ephemeral loopback port, the tenant registered its redirect URI without a port, and the code
// flow completes through whatever port the app got. A port-less `localhost` registration gets
// no such leeway.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import * as client from 'openid-client';
import { codeFlow, editDemoTenant, startDevServer } from './dev-server.mjs';

let demo;

before(async () => {
  demo = await startDevServer(process.env.MERIDIAN_TEST_PORT_LOOPBACK ?? '18545');
  const loginPageFor = async (redirect_uri) => {
    const url = new URL(`${demo.issuer}/authorize`);
    url.search = new URLSearchParams({ response_type: 'code', client_id: 'demo-client', redirect_uri, scope: 'openid' });
    return (await fetch(url, { redirect: 'manual' })).status;
  };
  await editDemoTenant(demo, (config) => {
    config.clients[0].redirectUris.push('http://127.0.0.1/native', 'http://localhost/native');
  }, async () => (await loginPageFor('http://127.0.0.1:1/native')) === 200);
});

after(() => demo?.stop());

async function discover() {
  return client.discovery(new URL(demo.issuer), 'demo-client', demo.secret, client.ClientSecretBasic(demo.secret), {
    execute: [client.allowInsecureRequests],
  });
}

/// A listener on an ephemeral loopback port, as a native app opens one for its redirect.
async function appListener() {
  let received;
  const callbacks = new Promise((resolve) => { received = resolve; });
  const server = createServer((request, response) => {
    received(request.url);
    response.end('You can close this window.');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: server.address().port, callbacks, close: () => server.close() };
}

test('a native app completes the code flow through the ephemeral port it listens on', async () => {
  const app = await appListener();
  try {
    const config = await discover();
    const redirect_uri = `http://127.0.0.1:${app.port}/native`;
    const { tokens, callback } = await codeFlow(client, config, demo.password, { redirect_uri });
    assert.equal(callback.origin, `http://127.0.0.1:${app.port}`, 'redirected to the app\'s port');
    await fetch(callback);
    assert.equal(new URL(await app.callbacks, redirect_uri).searchParams.get('code'), callback.searchParams.get('code'));
    assert.equal(tokens.claims().sub, 'demo');
  } finally {
    app.close();
  }
});

test('localhost registered without a port does not take any port', async () => {
  const config = await discover();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: 'http://localhost:53412/native',
    scope: 'openid',
    code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
  });
  const page = await fetch(url, { redirect: 'manual' });
  assert.equal(page.status, 400);
  assert.equal(page.headers.get('location'), null);
  assert.match(await page.text(), /redirect_uri is not registered/);
});
