// DPoP (RFC 9449) through openid-client's own DPoP support: a public client that must use
// DPoP and server nonces runs the code flow with a DPoP key (openid-client retries on
// use_dpop_nonce by itself), opens userinfo with its bound token and refreshes with the same
// key; another key cannot refresh. A confidential client gets a bound client_credentials token.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { codeFlow, editDemoTenant, redirectUri, signIn, startDevServer } from './dev-server.mjs';

let demo;

before(async () => {
  demo = await startDevServer(process.env.MERIDIAN_TEST_PORT_DPOP ?? '18561');
  const authorize = new URL(`${demo.issuer}/authorize`);
  authorize.search = new URLSearchParams({ response_type: 'code', client_id: 'dpop-app', redirect_uri: redirectUri, scope: 'openid' });
  await editDemoTenant(demo, (config) => {
    config.clients.push({
      clientId: 'dpop-app',
      kind: 'public',
      grantTypes: ['authorization_code', 'refresh_token'],
      redirectUris: [redirectUri],
      scopes: ['openid', 'email'],
      dpopBoundAccessTokens: true,
      requireDpopNonce: true,
    });
  }, async () => (await fetch(authorize, { redirect: 'manual' })).status === 303);
});

after(() => demo?.stop());

const options = { execute: [client.allowInsecureRequests] };

test('discovery lists the DPoP signing algorithms', async () => {
  const config = await client.discovery(new URL(demo.issuer), 'dpop-app', undefined, client.None(), options);
  const algs = config.serverMetadata().dpop_signing_alg_values_supported;
  assert.ok(algs.includes('ES256') && algs.includes('EdDSA') && !algs.includes('none'), algs);
});

test('a public client runs the code flow, userinfo and refresh with one DPoP key', async () => {
  const config = await client.discovery(new URL(demo.issuer), 'dpop-app', undefined, client.None(), options);
  const keyPair = await client.randomDPoPKeyPair('ES256');
  const DPoP = client.getDPoPHandle(config, keyPair);
  const { tokens } = await codeFlow(client, config, demo.password, { DPoP });
  assert.equal(tokens.token_type, 'dpop');
  const jkt = await thumbprint(keyPair.publicKey);
  assert.equal(payload(tokens.access_token).cnf.jkt, jkt);
  const info = await client.fetchUserInfo(config, tokens.access_token, tokens.claims().sub, { DPoP });
  assert.equal(info.sub, 'demo');

  const thief = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'));
  await assert.rejects(
    client.refreshTokenGrant(config, tokens.refresh_token, undefined, { DPoP: thief }),
    (error) => error.error === 'invalid_dpop_proof',
  );
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token, undefined, { DPoP });
  assert.equal(refreshed.token_type, 'dpop');
  assert.equal(payload(refreshed.access_token).cnf.jkt, jkt);
});

test('a bound token is not a bearer token at userinfo', async () => {
  const config = await client.discovery(new URL(demo.issuer), 'dpop-app', undefined, client.None(), options);
  const DPoP = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'));
  const { tokens } = await codeFlow(client, config, demo.password, { DPoP });
  await assert.rejects(
    client.fetchUserInfo(config, tokens.access_token, tokens.claims().sub),
    (error) => error.status === 401 && /^DPoP /.test(error.response.headers.get('www-authenticate')),
  );
});

test('a confidential client gets a DPoP-bound client_credentials token', async () => {
  const config = await client.discovery(new URL(demo.issuer), 'demo-client', demo.secret, client.ClientSecretBasic(demo.secret), options);
  const keyPair = await client.randomDPoPKeyPair('EdDSA');
  const tokens = await client.clientCredentialsGrant(config, { scope: 'api' }, { DPoP: client.getDPoPHandle(config, keyPair) });
  assert.equal(tokens.token_type, 'dpop');
  assert.equal(payload(tokens.access_token).cnf.jkt, await thumbprint(keyPair.publicKey));
});

function payload(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url'));
}

async function thumbprint(publicKey) {
  const { calculateJwkThumbprint, exportJWK } = await import('jose');
  return calculateJwkThumbprint(await exportJWK(publicKey));
}

test('a code pushed with a DPoP proof is redeemed only with that key', async () => {
  const config = await client.discovery(new URL(demo.issuer), 'dpop-app', undefined, client.None(), options);
  const DPoP = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'));
  const { tokens } = await codeFlow(client, config, demo.password, { par: true, DPoP });
  assert.equal(tokens.token_type, 'dpop');

  const verifier = client.randomPKCECodeVerifier();
  const url = await client.buildAuthorizationUrlWithPAR(config, {
    redirect_uri: redirectUri,
    scope: 'openid',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state: 'bound',
  }, { DPoP });
  const { callback } = await signIn(url, 'demo', demo.password);
  const thief = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'));
  await assert.rejects(
    client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: 'bound' }, undefined, { DPoP: thief }),
    (error) => error.error === 'invalid_dpop_proof',
  );
});
