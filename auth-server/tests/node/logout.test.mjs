// Logout through openid-client: RP-initiated logout (buildEndSessionUrl with id_token_hint,
// post_logout_redirect_uri and state) ends the session, the ID token carries its sid, and the
// client's back-channel endpoint receives a logout token that jose verifies as a relying party
// must (signature from the JWKS, typ logout+jwt, iss, aud, sid, the event, no nonce).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import * as client from 'openid-client';
import * as jose from 'jose';
import { codeFlow, editDemoTenant, startDevServer } from './dev-server.mjs';

const loggedOut = 'http://127.0.0.1:9999/bye';
let demo;
let relyingParty;
const logoutTokens = [];

before(async () => {
  relyingParty = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => { body += chunk; });
    request.on('end', () => {
      logoutTokens.push(new URLSearchParams(body).get('logout_token'));
      response.end();
    });
  });
  await new Promise((resolve) => relyingParty.listen(0, '127.0.0.1', resolve));
  const backchannel = `http://127.0.0.1:${relyingParty.address().port}/backchannel`;
  demo = await startDevServer(process.env.MERIDIAN_TEST_PORT_LOGOUT ?? '18546');
  const probe = new URL(`${demo.issuer}/logout`);
  probe.search = new URLSearchParams({ client_id: 'demo-client', post_logout_redirect_uri: loggedOut });
  await editDemoTenant(demo, (config) => {
    config.clients[0].postLogoutRedirectUris = [loggedOut];
    config.clients[0].backchannelLogoutUri = backchannel;
  }, async () => (await fetch(probe, { redirect: 'manual' })).status === 303);
});

after(() => {
  demo?.stop();
  relyingParty?.close();
});

async function discover() {
  return client.discovery(new URL(demo.issuer), 'demo-client', demo.secret, client.ClientSecretBasic(demo.secret), {
    execute: [client.allowInsecureRequests],
  });
}

async function waitForLogoutToken() {
  for (let attempt = 0; attempt < 100 && logoutTokens.length === 0; attempt++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  return logoutTokens.shift();
}

test('discovery advertises RP-initiated and back-channel logout', async () => {
  const metadata = (await discover()).serverMetadata();
  assert.equal(metadata.end_session_endpoint, `${demo.issuer}/logout`);
  assert.equal(metadata.backchannel_logout_supported, true);
  assert.equal(metadata.backchannel_logout_session_supported, true);
});

test('RP-initiated logout ends the session, returns with state, and tells the client over the back channel', async () => {
  const config = await discover();
  const { tokens, session } = await codeFlow(client, config, demo.password);
  const sid = tokens.claims().sid;
  assert.ok(sid, 'the ID token names its session');

  const state = client.randomState();
  const endSession = client.buildEndSessionUrl(config, {
    id_token_hint: tokens.id_token,
    post_logout_redirect_uri: loggedOut,
    state,
  });
  const response = await fetch(endSession, { redirect: 'manual', headers: { cookie: session } });
  assert.equal(response.status, 303);
  const back = new URL(response.headers.get('location'));
  assert.equal(`${back.origin}${back.pathname}`, loggedOut);
  assert.equal(back.searchParams.get('state'), state);

  const logoutToken = await waitForLogoutToken();
  assert.ok(logoutToken, 'a logout token was delivered');
  const jwks = jose.createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri));
  const { payload, protectedHeader } = await jose.jwtVerify(logoutToken, jwks, {
    issuer: demo.issuer,
    audience: 'demo-client',
    typ: 'logout+jwt',
  });
  assert.equal(protectedHeader.typ, 'logout+jwt');
  assert.equal(payload.sub, 'demo');
  assert.equal(payload.sid, sid);
  assert.deepEqual(payload.events, { 'http://schemas.openid.net/event/backchannel-logout': {} });
  assert.equal(payload.nonce, undefined);

  // The session is over: prompt=none now answers login_required.
  const again = client.buildAuthorizationUrl(config, {
    redirect_uri: 'http://127.0.0.1:9999/callback',
    scope: 'openid',
    prompt: 'none',
  });
  const answer = await fetch(again, { redirect: 'manual', headers: { cookie: session } });
  assert.equal(new URL(answer.headers.get('location')).searchParams.get('error'), 'login_required');
});

test('an unregistered post_logout_redirect_uri is refused with a page, and ends nothing', async () => {
  const config = await discover();
  const { tokens, session } = await codeFlow(client, config, demo.password);
  const endSession = client.buildEndSessionUrl(config, {
    id_token_hint: tokens.id_token,
    post_logout_redirect_uri: 'https://evil.example/bye',
  });
  const response = await fetch(endSession, { redirect: 'manual', headers: { cookie: session } });
  assert.equal(response.status, 400);
  assert.equal(response.headers.get('location'), null);
  const still = client.buildAuthorizationUrl(config, {
    redirect_uri: 'http://127.0.0.1:9999/callback',
    scope: 'openid',
    prompt: 'none',
  });
  const answer = await fetch(still, { redirect: 'manual', headers: { cookie: session } });
  assert.ok(new URL(answer.headers.get('location')).searchParams.get('code'), 'still signed in');
});
