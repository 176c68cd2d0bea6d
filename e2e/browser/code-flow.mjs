// Drives Debian's chromium (headless, through playwright-core; never a downloaded browser)
// through a Meridian login page: opens the authorization URL, saves a screenshot of the login
// page, signs in with the form, and prints where the browser was sent back to as one JSON line.
//
// Env: AUTHORIZE_URL, REDIRECT_PREFIX, LOGIN_USERNAME, LOGIN_PASSWORD, SCREENSHOT (a .png path).
import { chromium } from 'playwright-core';

const need = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
  ],
});
try {
  const page = await browser.newPage();
  const response = await page.goto(need('AUTHORIZE_URL'));
  const title = await page.title();
  await page.waitForSelector('form input[name=username]');
  await page.screenshot({ path: need('SCREENSHOT'), fullPage: true });
  await page.fill('input[name=username]', need('LOGIN_USERNAME'));
  await page.fill('input[name=password]', need('LOGIN_PASSWORD'));
  const prefix = need('REDIRECT_PREFIX');
  await Promise.all([
    page.waitForURL((url) => url.href.startsWith(prefix), { timeout: 20000 }),
    page.click('button[type=submit]'),
  ]);
  console.log(JSON.stringify({ loginStatus: response?.status(), title, callback: page.url() }));
} finally {
  await browser.close();
}
