// A FAPI 2.0 tenant through openid-client: the demo client, registered for private_key_jwt,
// pushes its request (PAR) with PKCE, redeems the code with a DPoP proof and an assertion it
// signs, and opens userinfo with the bound token; a plain authorization request and a secret
// are refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { exportJWK, generateKeyPair } from 'jose';
import { codeFlow, editDemoTenant, redirectUri, startDevServer } from './dev-server.mjs';

let demo;
let key;

before(async () => {
  demo = await startDevServer(process.env.MERIDIAN_TEST_PORT_FAPI2 ?? '18567');
  key = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(key.publicKey)), kid: 'fapi-1' };
  await editDemoTenant(demo, (config) => {
    config.fapi2 = true;
    Object.assign(config.clients[0], { tokenEndpointAuthMethod: 'private_key_jwt', jwks: { keys: [jwk] } });
  }, async () => {
    const metadata = await (await fetch(`${demo.issuer}/.well-known/openid-configuration`)).json();
    return metadata.require_pushed_authorization_requests === true;
  });
});

after(() => demo?.stop());

async function discover(auth = client.PrivateKeyJwt({ key: key.privateKey, kid: 'fapi-1' })) {
  return client.discovery(new URL(demo.issuer), 'demo-client', undefined, auth, { execute: [client.allowInsecureRequests] });
}

test('discovery says what FAPI 2.0 requires', async () => {
  const metadata = (await discover()).serverMetadata();
  assert.deepEqual(metadata.token_endpoint_auth_methods_supported, ['private_key_jwt', 'none']);
  assert.equal(metadata.authorization_response_iss_parameter_supported, true);
});

test('PAR, PKCE, private_key_jwt and DPoP complete the code flow', async () => {
  const config = await discover();
  const DPoP = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'));
  const { tokens, callback } = await codeFlow(client, config, demo.password, { par: true, DPoP });
  assert.equal(callback.searchParams.get('iss'), demo.issuer);
  assert.equal(tokens.token_type, 'dpop');
  const info = await client.fetchUserInfo(config, tokens.access_token, tokens.claims().sub, { DPoP });
  assert.equal(info.sub, 'demo');
});

test('an unpushed request and a client secret are refused', async () => {
  const config = await discover();
  const plain = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid',
    code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
  });
  const answer = await fetch(plain, { redirect: 'manual' });
  assert.equal(new URL(answer.headers.get('location')).searchParams.get('error'), 'invalid_request');
  const withSecret = await discover(client.ClientSecretBasic(demo.secret));
  await assert.rejects(client.clientCredentialsGrant(withSecret, { scope: 'api' }), (error) => error.status === 401);
});
