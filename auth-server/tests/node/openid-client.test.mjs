// A second ecosystem's client against the real server binary started in --dev mode:
// discovery, client_credentials, and the authorization code flow with PKCE and nonce,
// logging in through the server's HTML form as a browser without JavaScript would.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as client from 'openid-client';

const binary = process.env.MERIDIAN_AUTH_SERVER_BIN;
const port = process.env.MERIDIAN_TEST_PORT ?? '18543';
const redirectUri = 'http://127.0.0.1:9999/callback';
let server;
let demo;

// Reads the issuer, client secret and password the server prints in --dev mode.
function startDevServer() {
  return new Promise((resolve, reject) => {
    const dir = mkdtempSync(join(tmpdir(), 'meridian-node-'));
    server = spawn(binary, ['--dev', '--listen', `127.0.0.1:${port}`, '--config-dir', dir], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    server.stdout.on('data', (chunk) => {
      out += chunk;
      const issuer = out.match(/issuer:\s+(\S+)/)?.[1];
      const secret = out.match(/client:\s+\S+ \/ (\S+)/)?.[1];
      const password = out.match(/user:\s+\S+ \/ (\S+)/)?.[1];
      if (issuer && secret && password) resolve({ issuer, secret, password });
    });
    server.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
}

async function waitUntilReady(issuer) {
  const readyz = new URL('/readyz', issuer);
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      if ((await fetch(readyz)).ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('server never became ready');
}

async function discover() {
  return client.discovery(new URL(demo.issuer), 'demo-client', demo.secret, client.ClientSecretBasic(demo.secret), {
    execute: [client.allowInsecureRequests],
  });
}

before(async () => {
  assert.ok(binary, 'MERIDIAN_AUTH_SERVER_BIN names the server binary');
  demo = await startDevServer();
  await waitUntilReady(demo.issuer);
});

after(() => server?.kill('SIGTERM'));

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
  const verifier = client.randomPKCECodeVerifier();
  const nonce = client.randomNonce();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid email',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    nonce,
    state,
  });

  const page = await fetch(url, { redirect: 'manual' });
  assert.equal(page.status, 200);
  const cookie = page.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const html = await page.text();
  const field = (name) => html.match(new RegExp(`name="${name}" value="([^"]*)"`))[1];
  const login = await fetch(new URL('login', url), {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
    body: new URLSearchParams({
      login_id: field('login_id'),
      csrf: field('csrf'),
      username: 'demo',
      password: demo.password,
    }),
  });
  assert.ok(login.status >= 300 && login.status < 400, `login redirects, got ${login.status}`);
  const callback = new URL(login.headers.get('location'));
  assert.equal(callback.searchParams.get('iss'), demo.issuer);

  const tokens = await client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: verifier,
    expectedNonce: nonce,
    expectedState: state,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  assert.equal(claims.sub, 'demo');
  assert.equal(claims.nonce, nonce);
  assert.ok(tokens.refresh_token, 'a refresh token for the confidential client');

  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  assert.equal(userinfo.email, 'demo@example.com');
});
