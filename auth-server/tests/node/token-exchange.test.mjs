// Token exchange (RFC 8693) through openid-client's genericGrantRequest: the demo client
// exchanges the demo user's access token for one to another API within its policy, naming
// itself as actor with its own client_credentials token; an audience outside the policy is
// invalid_target.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { codeFlow, editDemoTenant, startDevServer } from './dev-server.mjs';

const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS = 'urn:ietf:params:oauth:token-type:access_token';
const ORDERS = 'https://orders.example/';
let demo;

before(async () => {
  demo = await startDevServer(process.env.MERIDIAN_TEST_PORT_TOKEN_EXCHANGE ?? '18565');
  await editDemoTenant(demo, (config) => {
    config.clients[0].grantTypes.push(EXCHANGE);
    config.clients[0].tokenExchange = { audiences: [ORDERS], scopes: ['api'] };
  }, async () => {
    const config = await discover();
    const own = await client.clientCredentialsGrant(config, { scope: 'api' });
    try {
      await client.genericGrantRequest(config, EXCHANGE, { subject_token: own.access_token, subject_token_type: ACCESS });
      return true;
    } catch {
      return false;
    }
  });
});

after(() => demo?.stop());

async function discover() {
  return client.discovery(new URL(demo.issuer), 'demo-client', demo.secret, client.ClientSecretBasic(demo.secret), {
    execute: [client.allowInsecureRequests],
  });
}

const claims = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url'));

test('a user token is exchanged for another audience, with the client as actor', async () => {
  const config = await discover();
  const { tokens } = await codeFlow(client, config, demo.password, { scope: 'openid api' });
  const own = await client.clientCredentialsGrant(config, { scope: 'api' });
  const exchanged = await client.genericGrantRequest(config, EXCHANGE, {
    subject_token: tokens.access_token,
    subject_token_type: ACCESS,
    actor_token: own.access_token,
    actor_token_type: ACCESS,
    audience: ORDERS,
  });
  assert.equal(exchanged.issued_token_type, ACCESS);
  const issued = claims(exchanged.access_token);
  assert.equal(issued.sub, 'demo');
  assert.equal(issued.aud, ORDERS);
  assert.equal(issued.scope, 'api');
  assert.equal(issued.act.sub, 'demo-client');
});

test('an audience outside the policy is invalid_target', async () => {
  const config = await discover();
  const own = await client.clientCredentialsGrant(config, { scope: 'api' });
  await assert.rejects(
    client.genericGrantRequest(config, EXCHANGE, { subject_token: own.access_token, subject_token_type: ACCESS, audience: 'https://payroll.example/' }),
    (error) => error.error === 'invalid_target',
  );
});
