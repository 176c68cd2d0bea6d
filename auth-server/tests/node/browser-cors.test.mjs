// CORS in a real browser: Debian's chromium (driven by playwright-core, never a downloaded
// browser) opens a page of a single-page app on the origin the client registered, and one on
// an origin nobody registered, and each calls discovery, the JWKS and the token endpoint with
// fetch (the token request sends an Authorization header, so the browser preflights it). The
// browser itself enforces CORS: the registered page reads every answer, the other none.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { chromium } from 'playwright-core';
import { editDemoTenant, startDevServer } from './dev-server.mjs';

let demo;
let browser;
const pages = [];

/// A page server on an ephemeral loopback port: an origin of its own.
async function pageOrigin() {
  const server = createServer((_, response) => {
    response.setHeader('content-type', 'text/html');
    response.end('<!doctype html><title>SPA</title>');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  pages.push(server);
  return `http://127.0.0.1:${server.address().port}`;
}

let registered;
let stranger;

before(async () => {
  [registered, stranger] = [await pageOrigin(), await pageOrigin()];
  demo = await startDevServer(process.env.MERIDIAN_TEST_PORT_BROWSER ?? '18549');
  const discovery = `${demo.issuer}/.well-known/openid-configuration`;
  await editDemoTenant(demo, (config) => {
    config.clients[0].allowedOrigins = [registered];
  }, async () => (await fetch(discovery, { headers: { origin: registered } }))
    .headers.get('access-control-allow-origin') === registered);
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});

after(async () => {
  await browser?.close();
  demo?.stop();
  pages.forEach((server) => server.close());
});

/// What a page on `origin` can read of discovery, the JWKS and a client_credentials request.
async function readFrom(origin) {
  const page = await browser.newPage();
  try {
    await page.goto(origin);
    return await page.evaluate(async ({ issuer, secret }) => {
      const read = (request) => request.then((r) => r.json(), (error) => `blocked: ${error.name}`);
      const discovery = await read(fetch(`${issuer}/.well-known/openid-configuration`));
      const jwks = await read(fetch(`${issuer}/jwks.json`));
      const token = await read(fetch(`${issuer}/token`, {
        method: 'POST',
        headers: { authorization: `Basic ${btoa(`demo-client:${secret}`)}` },
        body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'api' }),
      }));
      return { discovery, jwks, token };
    }, { issuer: demo.issuer, secret: demo.secret });
  } finally {
    await page.close();
  }
}

test('a page on the registered origin reads discovery, JWKS and a token', async () => {
  const seen = await readFrom(registered);
  assert.equal(seen.discovery.issuer, demo.issuer);
  assert.ok(seen.jwks.keys.length >= 1);
  assert.equal(seen.token.token_type, 'Bearer', JSON.stringify(seen.token));
});

test('a page on any other origin reads nothing', async () => {
  const seen = await readFrom(stranger);
  assert.deepEqual(seen, {
    discovery: 'blocked: TypeError',
    jwks: 'blocked: TypeError',
    token: 'blocked: TypeError',
  });
});
