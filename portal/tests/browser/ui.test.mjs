// The portal's pages in Debian's Chromium, headless: a vendor's staff member and a
// customer's org-admin, each in a browser of their own. Started by portal/tests/api/browser.rs,
// which starts the real portal and makes the people and licenses; it passes:
//   PORTAL_URL, CHROMIUM, SCREENSHOTS (a directory), SUPER_EMAIL, PASSWORD,
//   LICENSE_ID (a registered Acme Corp license), UPLOAD_FILE (another license's file).
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { chromium } from 'playwright-core';
import { accessible, env } from './kit.mjs';

const url = env('PORTAL_URL');
const shots = env('SCREENSHOTS');
const password = env('PASSWORD');
const licenseId = env('LICENSE_ID');

let browser;
before(async () => {
  browser = await chromium.launch({ executablePath: env('CHROMIUM'), args: ['--no-sandbox'] });
});
after(async () => {
  await browser?.close();
});

// RFC 6238: the 6-digit code of a base32 secret now, as an authenticator app shows it.
function totp(secret, at = Date.now()) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const step = Buffer.alloc(8);
  step.writeBigUInt64BE(BigInt(Math.floor(at / 1000 / 30)));
  const mac = createHmac('sha1', key).update(step).digest();
  const offset = mac[19] & 0x0f;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1000000).padStart(6, '0');
}

async function shot(page, name) {
  await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
}

async function signIn(page, email) {
  await page.goto(`${url}/ui`);
  assert.match(page.url(), /\/ui\/signin$/);
  // Keyboard only: the skip link, the home link, then the email and password fields, in
  // order, each with a visible focus.
  for (const expected of ['Skip to content', 'Tessera portal']) {
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.textContent), expected);
  }
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'email');
  await page.keyboard.type(email);
  await page.keyboard.press('Tab');
  await page.keyboard.type(password);
  await page.keyboard.press('Enter');
  await page.waitForURL(`${url}/ui`);
}

test('staff sign in, register, suspend and invite; the customer joins, sees it and resets a binding', async () => {
  const staff = await browser.newContext({ bypassCSP: true, viewport: { width: 1200, height: 800 } });
  const page = await staff.newPage();
  await page.goto(`${url}/ui/signin`);
  await accessible(page, 'sign-in');
  await shot(page, '01-sign-in');

  // A wrong password first: the page says so, and the form is still there.
  await page.getByLabel('Email').fill(env('SUPER_EMAIL'));
  await page.getByLabel('Password').fill('not the password at all');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await assert.doesNotReject(page.getByRole('alert').filter({ hasText: 'Wrong email or password.' }).waitFor());
  await shot(page, '02-sign-in-refused');

  await signIn(page, env('SUPER_EMAIL'));
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
  await accessible(page, 'dashboard');
  await shot(page, '03-dashboard');

  await page.getByRole('link', { name: 'Licenses', exact: true }).click();
  await page.getByLabel('Organization (org claim)').fill('Acme Corp');
  await page.getByRole('button', { name: 'Filter' }).click();
  await page.getByRole('link', { name: licenseId }).waitFor();
  await accessible(page, 'licenses');
  await shot(page, '04-licenses');

  await page.getByRole('link', { name: licenseId }).click();
  await page.getByRole('heading', { name: `License ${licenseId}` }).waitFor();
  await accessible(page, 'license');
  await shot(page, '05-license');

  await page.getByRole('link', { name: 'Suspend' }).click();
  await page.getByRole('heading', { name: /Suspend license/ }).waitFor();
  await accessible(page, 'confirm');
  await shot(page, '06-confirm-suspend');
  await page.getByRole('button', { name: 'Suspend' }).click();
  await page.getByRole('status').filter({ hasText: 'The license is suspended.' }).waitFor();
  assert.equal(await page.locator('.status').first().textContent(), 'suspended');
  await shot(page, '07-suspended');

  // Register a license by uploading its file.
  await page.getByRole('link', { name: 'Register' }).click();
  await page.getByRole('heading', { name: 'Register licenses' }).waitFor();
  await accessible(page, 'register');
  await page.getByLabel(/License files/).setInputFiles(env('UPLOAD_FILE'));
  await page.getByRole('button', { name: 'Register' }).click();
  await page.getByRole('cell', { name: /registered \(valid\)/ }).waitFor();
  await accessible(page, 'register results');
  await shot(page, '08-registered-by-upload');

  await page.getByRole('link', { name: 'Organizations', exact: true }).click();
  await accessible(page, 'organizations');
  await page.getByLabel(/Name, exactly as licenses name it/).fill('Initech');
  await page.getByRole('button', { name: 'Create' }).click();
  await page.getByRole('status').filter({ hasText: 'The organization is created.' }).waitFor();
  await page.getByRole('cell', { name: 'Initech', exact: true }).waitFor();
  await shot(page, '09-organizations');

  // Invite the customer's administrator; the link is shown once.
  await page.getByRole('link', { name: 'People', exact: true }).click();
  await accessible(page, 'people');
  await page.getByLabel('Business email').fill('kim@acme.example');
  await page.getByLabel('Role').selectOption('org-admin');
  await page.getByLabel(/^Organization/).selectOption({ label: 'Acme Corp' });
  await page.getByRole('button', { name: 'Invite' }).click();
  const link = (await page.locator('.notice code').textContent()).trim();
  assert.match(link, /\/ui\/invite\/[A-Za-z0-9_-]{43}$/);
  await shot(page, '10-invited');

  // The customer, on a phone-sized screen, joins, sees the change, and resets the binding.
  const customer = await browser.newContext({ bypassCSP: true, viewport: { width: 390, height: 844 } });
  const phone = await customer.newPage();
  await phone.goto(link);
  await accessible(phone, 'join');
  await phone.getByLabel('Your name').fill('Kim Lee');
  await phone.getByLabel(/^Password/).fill(password);
  await phone.getByLabel('The password again').fill(password);
  await shot(phone, '11-join');
  await phone.getByRole('button', { name: 'Create my account' }).click();
  await phone.waitForURL(`${url}/ui`);
  await phone.getByText('The licenses of Acme Corp.').waitFor();
  assert.equal(await phone.getByRole('link', { name: 'Organizations', exact: true }).count(), 0);
  await accessible(phone, 'org-admin dashboard');
  await shot(phone, '12-customer-dashboard');
  await phone.getByRole('link', { name: 'Licenses', exact: true }).click();
  await phone.getByRole('link', { name: licenseId }).click();
  assert.equal(await phone.locator('.status').first().textContent(), 'suspended');
  assert.equal(await phone.getByRole('link', { name: 'Suspend' }).count(), 0);
  await accessible(phone, 'org-admin license');
  await shot(phone, '13-customer-license');
  await phone.getByRole('link', { name: 'Reset the hub binding' }).click();
  await phone.getByText('once every 30 days').waitFor();
  await accessible(phone, 'org-admin confirm reset');
  await phone.getByRole('button', { name: 'Reset the hub binding' }).click();
  await phone.getByRole('status').filter({ hasText: 'The hub binding is reset.' }).waitFor();
  await shot(phone, '14-customer-reset');

  await phone.getByRole('link', { name: /Kim Lee/ }).click();
  await accessible(phone, 'profile');
  await shot(phone, '15-profile');
  await phone.getByRole('link', { name: 'Turn on two-step sign-in' }).click();
  await phone.getByRole('heading', { name: 'Turn on two-step sign-in' }).waitFor();
  await accessible(phone, 'second factor set-up');
  await shot(phone, '16-second-factor');
  // The QR code is drawn (inline SVG, named for screen readers) beside the key as text.
  const qr = phone.getByRole('img', { name: /QR code of the authenticator address/ });
  assert.ok((await qr.boundingBox()).width >= 150, 'the QR code is drawn large enough to scan');
  const secret = (await phone.locator('ol li code').first().textContent()).trim();
  await phone.getByLabel('Code from the app').fill(totp(secret));
  await phone.getByRole('button', { name: 'Turn on' }).click();
  await phone.getByRole('heading', { name: 'Two-step sign-in is on' }).waitFor();
  const recovery = (await phone.locator('main ul li code').allTextContents()).map((c) => c.trim());
  assert.equal(recovery.length, 10);
  await accessible(phone, 'recovery codes');
  await shot(phone, '16b-recovery-codes');
  await phone.getByRole('link', { name: 'API keys' }).click();
  await phone.getByLabel(/Label/).fill('our monitoring');
  await phone.getByRole('button', { name: 'Make a key' }).click();
  assert.match(await phone.locator('.notice code').textContent(), /^tsk_[0-9a-f]{16}_/);
  await accessible(phone, 'API keys');
  await shot(phone, '17-api-keys');
  await phone.getByRole('button', { name: 'Sign out', exact: true }).click();
  await phone.waitForURL(`${url}/ui/signin`);
  await phone.goto(`${url}/ui/licenses`);
  assert.match(phone.url(), /\/ui\/signin$/, 'signed out for good');

  // Signing in again takes the second step: a recovery code this time.
  await phone.getByLabel('Email').fill('kim@acme.example');
  await phone.getByLabel('Password').fill(password);
  await phone.getByRole('button', { name: 'Sign in' }).click();
  await phone.waitForURL(`${url}/ui/signin/code`);
  await accessible(phone, 'second step');
  await shot(phone, '18-second-step');
  await phone.getByLabel(/6-digit code/).fill(recovery[0]);
  await phone.getByRole('button', { name: 'Sign in' }).click();
  await phone.waitForURL(`${url}/ui`);

  // The vendor's staff see Kim among the people, and can open her page.
  await page.getByRole('link', { name: 'People', exact: true }).click();
  await page.getByRole('link', { name: 'Kim Lee' }).click();
  await page.getByRole('heading', { name: 'Kim Lee' }).waitFor();
  await accessible(page, 'person');
  await shot(page, '19-person');
  await page.getByRole('link', { name: /Remove Kim Lee/ }).click();
  await accessible(page, 'confirm removal');
  await shot(page, '20-confirm-remove');

  // The audit ledger holds what was done, by pseudonymous id (people shown by name).
  await page.getByRole('link', { name: 'Audit', exact: true }).click();
  await page.getByRole('cell', { name: 'license.suspended' }).first().waitFor();
  await accessible(page, 'audit');
  await shot(page, '20b-audit');

  // A refusal is a page too: what happened, and the way back.
  const missing = await page.goto(`${url}/ui/licenses/no-such-license`);
  assert.equal(missing.status(), 404);
  await page.getByRole('alert').filter({ hasText: 'not yours to see' }).waitFor();
  await accessible(page, 'not found');
  await shot(page, '21-not-found');
  await staff.close();
  await customer.close();
});
