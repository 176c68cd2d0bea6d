// A single-page app in a real browser (Debian's chromium through playwright-core): a page on
// an origin of its own loads openid-client itself (its browser build, served by the test)
// and runs the code flow with PKCE and a DPoP key made in the browser (WebCrypto, not
// extractable): its token request, userinfo and refresh cross origins under CORS with DPoP
// proofs; then RP-initiated logout with the ID token as hint ends the session, so a silent
// authorization request afterwards gets login_required.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { editDemoTenant, startDevServer } from './dev-server.mjs';

const modules = join(import.meta.dirname, 'node_modules');
const importMap = {
  imports: {
    'openid-client': '/m/openid-client/build/index.js',
    oauth4webapi: '/m/oauth4webapi/build/index.js',
    'jose/jwe/compact/decrypt': '/m/jose/dist/webapi/jwe/compact/decrypt.js',
    'jose/errors': '/m/jose/dist/webapi/util/errors.js',
  },
};
const page = `<!doctype html><title>SPA</title>
<script type="importmap">${JSON.stringify(importMap)}</script>
<script type="module">import * as client from 'openid-client'; window.client = client; window.ready = true;</script>`;

let demo;
let browser;
let spa;
let origin;

before(async () => {
  spa = createServer(async (request, response) => {
    const path = new URL(request.url, 'http://spa').pathname;
    if (path.startsWith('/m/') && !path.includes('..')) {
      try {
        const source = await readFile(join(modules, path.slice(3)));
        response.setHeader('content-type', 'text/javascript');
        response.end(source);
      } catch {
        response.statusCode = 404;
        response.end();
      }
      return;
    }
    response.setHeader('content-type', 'text/html');
    response.end(page);
  });
  await new Promise((resolve) => spa.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${spa.address().port}`;
  demo = await startDevServer(process.env.MERIDIAN_TEST_PORT_BROWSER_SPA ?? '18569');
  const discovery = `${demo.issuer}/.well-known/openid-configuration`;
  await editDemoTenant(demo, (config) => {
    config.clients.push({
      clientId: 'spa',
      kind: 'public',
      grantTypes: ['authorization_code', 'refresh_token'],
      // No port: any port of the loopback address (RFC 8252 §7.3), so the SPA's.
      redirectUris: ['http://127.0.0.1/callback'],
      allowedOrigins: [origin],
      postLogoutRedirectUris: [`${origin}/bye`],
      scopes: ['openid'],
      dpopBoundAccessTokens: true,
    });
  }, async () => (await fetch(discovery, { headers: { origin } }))
    .headers.get('access-control-allow-origin') === origin);
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});

after(async () => {
  await browser?.close();
  demo?.stop();
  spa?.close();
});

test('the SPA signs in with PKCE and DPoP, refreshes, and logs out', async () => {
  const context = await browser.newContext();
  const app = await context.newPage();
  await app.goto(origin);
  await app.waitForFunction(() => window.ready);
  const authorizeUrl = await app.evaluate(async (issuer) => {
    const { client } = window;
    window.config = await client.discovery(new URL(issuer), 'spa', undefined, client.None(), {
      execute: [client.allowInsecureRequests],
    });
    window.DPoP = client.getDPoPHandle(window.config, await client.randomDPoPKeyPair('ES256'));
    window.verifier = client.randomPKCECodeVerifier();
    window.state = client.randomState();
    return client.buildAuthorizationUrl(window.config, {
      redirect_uri: `${location.origin}/callback`,
      scope: 'openid',
      code_challenge: await client.calculatePKCECodeChallenge(window.verifier),
      code_challenge_method: 'S256',
      state: window.state,
    }).href;
  }, demo.issuer);

  // The sign-in is a navigation of its own, as a redirect-based SPA's would be.
  const tab = await context.newPage();
  await tab.goto(authorizeUrl);
  await tab.fill('input[name=username]', 'demo');
  await tab.fill('input[name=password]', demo.password);
  await Promise.all([tab.waitForURL(/\/callback\?/), tab.click('button[type=submit]')]);

  const seen = await app.evaluate(async (callback) => {
    const { client, config, DPoP } = window;
    const tokens = await client.authorizationCodeGrant(config, new URL(callback), {
      pkceCodeVerifier: window.verifier,
      expectedState: window.state,
    }, undefined, { DPoP });
    const info = await client.fetchUserInfo(config, tokens.access_token, tokens.claims().sub, { DPoP });
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token, undefined, { DPoP });
    const endSession = client.buildEndSessionUrl(config, {
      id_token_hint: refreshed.id_token ?? tokens.id_token,
      post_logout_redirect_uri: `${location.origin}/bye`,
      state: 'bye',
    }).href;
    return { type: tokens.token_type, sub: info.sub, refreshed: refreshed.token_type, endSession };
  }, tab.url());
  assert.deepEqual([seen.type, seen.sub, seen.refreshed], ['dpop', 'demo', 'dpop']);

  await tab.goto(seen.endSession);
  await tab.waitForURL(/\/bye\?/);
  assert.equal(new URL(tab.url()).searchParams.get('state'), 'bye');
  const silent = new URL(authorizeUrl);
  silent.searchParams.set('prompt', 'none');
  await tab.goto(silent.href);
  await tab.waitForURL(/\/callback\?/);
  assert.equal(new URL(tab.url()).searchParams.get('error'), 'login_required', 'the session ended');
  await context.close();
});
