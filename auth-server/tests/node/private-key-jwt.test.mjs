// private_key_jwt (RFC 7523) through openid-client's PrivateKeyJwt: a confidential client
// whose public key is registered inline, and one whose keys the test serves at a jwks_uri,
// get client_credentials tokens with assertions openid-client signs; a client holding
// another key (under the same kid) is refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import * as client from 'openid-client';
import { exportJWK, generateKeyPair } from 'jose';
import { editDemoTenant, startDevServer } from './dev-server.mjs';

let demo;
let jwksServer;
const keys = {};

before(async () => {
  demo = await startDevServer(process.env.MERIDIAN_TEST_PORT_PRIVATE_KEY_JWT ?? '18563');
  for (const name of ['inline', 'remote']) {
    const pair = await generateKeyPair('ES256', { extractable: true });
    keys[name] = { pair, jwk: { ...(await exportJWK(pair.publicKey)), kid: `${name}-1`, use: 'sig' } };
  }
  jwksServer = createServer((_, response) => {
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify({ keys: [keys.remote.jwk] }));
  });
  await new Promise((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
  const jwksUri = `http://127.0.0.1:${jwksServer.address().port}/jwks`;
  const keyed = (clientId, extra) => ({
    clientId,
    kind: 'confidential',
    grantTypes: ['client_credentials'],
    scopes: ['api'],
    tokenEndpointAuthMethod: 'private_key_jwt',
    ...extra,
  });
  await editDemoTenant(demo, (config) => {
    config.clients.push(keyed('keyed-inline', { jwks: { keys: [keys.inline.jwk] } }));
    config.clients.push(keyed('keyed-remote', { jwksUri }));
  }, async () => {
    try {
      await tokens('keyed-inline', keys.inline.pair.privateKey, 'inline-1');
      return true;
    } catch {
      return false;
    }
  });
});

after(() => {
  demo?.stop();
  jwksServer?.close();
});

async function tokens(clientId, privateKey, kid) {
  const config = await client.discovery(new URL(demo.issuer), clientId, undefined, client.PrivateKeyJwt({ key: privateKey, kid }), {
    execute: [client.allowInsecureRequests],
  });
  return client.clientCredentialsGrant(config, { scope: 'api' });
}

test('discovery lists private_key_jwt and its algorithms', async () => {
  const metadata = await (await fetch(`${demo.issuer}/.well-known/openid-configuration`)).json();
  assert.ok(metadata.token_endpoint_auth_methods_supported.includes('private_key_jwt'));
  assert.ok(metadata.token_endpoint_auth_signing_alg_values_supported.includes('ES256'));
});

test('a client with an inline key gets a token', async () => {
  const issued = await tokens('keyed-inline', keys.inline.pair.privateKey, 'inline-1');
  const claims = JSON.parse(Buffer.from(issued.access_token.split('.')[1], 'base64url'));
  assert.equal(claims.client_id, 'keyed-inline');
  assert.equal(claims.scope, 'api');
});

test('a client whose keys are at its jwks_uri gets a token', async () => {
  const issued = await tokens('keyed-remote', keys.remote.pair.privateKey, 'remote-1');
  assert.equal(issued.token_type, 'bearer');
});

test('an assertion signed with another key is refused', async () => {
  const other = await generateKeyPair('ES256');
  await assert.rejects(tokens('keyed-inline', other.privateKey, 'inline-1'), (error) => error.error === 'invalid_client');
});
