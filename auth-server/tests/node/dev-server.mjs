// The real server binary in --dev mode, for the openid-client tests: starts it on a port of
// the test file's own (node --test runs files in parallel), reads the issuer, client secret and
// password it prints, and signs in through its HTML form as a browser without JavaScript would.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const redirectUri = 'http://127.0.0.1:9999/callback';

export async function startDevServer(port) {
  const binary = process.env.MERIDIAN_AUTH_SERVER_BIN;
  if (!binary) throw new Error('MERIDIAN_AUTH_SERVER_BIN names the server binary');
  const dir = mkdtempSync(join(tmpdir(), 'meridian-node-'));
  const server = spawn(binary, ['--dev', '--listen', `127.0.0.1:${port}`, '--config-dir', dir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const demo = await new Promise((resolve, reject) => {
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
  await waitUntilReady(demo.issuer);
  return { ...demo, dir, stop: () => server.kill('SIGTERM') };
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

/// Rewrites the demo tenant's configuration (the server watches its directory) and waits until
/// `served()` says the server serves it.
export async function editDemoTenant(demo, edit, served) {
  const file = join(demo.dir, 'demo.tenant.json');
  const config = JSON.parse(readFileSync(file, 'utf8'));
  edit(config);
  writeFileSync(file, JSON.stringify(config, null, 2));
  for (let attempt = 0; attempt < 100; attempt++) {
    if (await served()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the edited configuration was never served');
}

/// Opens an authorize URL, submits the login form, and returns the callback URL and the
/// cookies of the session it started.
export async function signIn(url, username, password, cookie = '') {
  const page = await fetch(url, { redirect: 'manual', headers: { cookie } });
  if (page.status !== 200) throw new Error(`login page: ${page.status}`);
  const cookies = [cookie, ...page.headers.getSetCookie().map((c) => c.split(';')[0])]
    .filter(Boolean).join('; ');
  const html = await page.text();
  const field = (name) => html.match(new RegExp(`name="${name}" value="([^"]*)"`))[1];
  const login = await fetch(new URL('login', url), {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: cookies },
    body: new URLSearchParams({
      login_id: field('login_id'),
      csrf: field('csrf'),
      username,
      password,
    }),
  });
  if (login.status < 300 || login.status >= 400) throw new Error(`login: ${login.status}`);
  const session = login.headers.getSetCookie().map((c) => c.split(';')[0])
    .filter((c) => c.startsWith('meridian_session=')).join('; ');
  return { callback: new URL(login.headers.get('location')), session };
}

/// The code flow with PKCE, state and nonce, as openid-client runs it: signs the demo user in
/// (within `cookie`'s session, if given) and redeems the callback with every check on.
/// `par`: push the request first (RFC 9126) and authorize with its request_uri; `DPoP`: a
/// DPoP handle (openid-client's getDPoPHandle) that proves its key at the token endpoint (and
/// at the push, which binds the code to it).
export async function codeFlow(client, config, password, { scope = 'openid email', cookie = '', redirect_uri = redirectUri, extra = {}, par = false, DPoP } = {}) {
  const verifier = client.randomPKCECodeVerifier();
  const nonce = client.randomNonce();
  const state = client.randomState();
  const parameters = {
    redirect_uri,
    scope,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    nonce,
    state,
    ...extra,
  };
  const url = par
    ? await client.buildAuthorizationUrlWithPAR(config, parameters, DPoP ? { DPoP } : undefined)
    : client.buildAuthorizationUrl(config, parameters);
  const { callback, session } = await signIn(url, 'demo', password, cookie);
  const tokens = await client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: verifier,
    expectedNonce: nonce,
    expectedState: state,
    idTokenExpected: true,
  }, undefined, DPoP ? { DPoP } : undefined);
  return { tokens, callback, session, nonce, url };
}
