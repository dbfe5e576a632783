// The people, API key and audit pages in Debian's Chromium, headless: the vendor's staff
// member and a customer's org-admin, each on a desktop and a phone screen. Started by
// portal/tests/api/browser_people.rs, which starts the real portal and makes the people
// (Dana Smith, super-admin; Kim Lee, org-admin of Acme Corp; Zed Park, of Globex) and an
// Acme Corp license; it passes PORTAL_URL, CHROMIUM, SCREENSHOTS, PASSWORD, LICENSE_ID.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { accessible, env } from './kit.mjs';

const url = env('PORTAL_URL');
const shots = env('SCREENSHOTS');
const password = env('PASSWORD');

const screens = {
  desktop: { width: 1280, height: 800 },
  phone: { width: 390, height: 844 },
};

let browser;
before(async () => {
  browser = await chromium.launch({ executablePath: env('CHROMIUM'), args: ['--no-sandbox'] });
});
after(async () => {
  await browser?.close();
});

// The page as it is: no axe violation of any impact, and nothing wider than the screen.
async function check(page, name) {
  await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
  await accessible(page, name);
  const { wide, screen, widest } = await page.evaluate(() => ({
    widest: [...document.querySelectorAll('body *')]
      .filter((e) => e.getBoundingClientRect().right > window.innerWidth)
      .slice(0, 5)
      .map((e) => `${e.tagName}.${e.className}#${e.id}`)
      .join(' '),
    wide: document.documentElement.scrollWidth,
    screen: window.innerWidth,
  }));
  assert.ok(wide <= screen, `${name} scrolls sideways: ${wide} px on a ${screen} px screen (${widest})`);
  // On a phone no table's region scrolls sideways either (its rows read as cards), and the
  // tables are still tables in Chromium's accessibility tree.
  if (screen <= 640) {
    const regions = await page.evaluate(() =>
      [...document.querySelectorAll('.table')]
        .filter((r) => r.scrollWidth > r.clientWidth)
        .map((r) => `${r.getAttribute('aria-label')}: ${r.scrollWidth}px in ${r.clientWidth}px`),
    );
    assert.deepEqual(regions, [], `${name}: a table scrolls sideways on a ${screen} px screen`);
    const tables = await page.locator('table:visible').count();
    if (tables > 0) {
      const cdp = await page.context().newCDPSession(page);
      const { nodes } = await cdp.send('Accessibility.getFullAXTree');
      await cdp.detach();
      const roles = (role) => nodes.filter((n) => !n.ignored && n.role?.value === role).length;
      assert.equal(roles('table'), tables, `${name}: every table is a table to a screen reader`);
      assert.ok(roles('columnheader') >= tables, `${name}: the tables keep their column headers`);
      assert.ok(roles('cell') > 0, `${name}: the tables keep their cells`);
    }
  }
}

async function signIn(screen, email) {
  const context = await browser.newContext({ bypassCSP: true, viewport: screens[screen] });
  const page = await context.newPage();
  await page.goto(`${url}/ui/signin`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${url}/ui`);
  return { context, page };
}

// The people page, the API keys page with a key's revocation asked, and the audit log.
async function tour(page, role, screen) {
  const name = (what) => `people-${role}-${screen}-${what}`;
  await page.getByRole('link', { name: 'People', exact: true }).click();
  await page.getByRole('heading', { name: 'People' }).waitFor();
  for (const column of ['Role', 'Organization', 'Two-step sign-in', 'Last sign-in']) {
    await page.getByRole('columnheader', { name: column, exact: true }).first().waitFor();
  }
  // Kim's row: her organization by name, linking to its licenses.
  const kim = page.getByRole('row').filter({ hasText: 'kim@acme.example' });
  await kim.getByRole('link', { name: 'Acme Corp' }).waitFor();
  await check(page, name('people'));

  await page.getByRole('link', { name: 'API keys', exact: true }).click();
  await page.getByLabel(/Label/).fill(`${role} ${screen}`);
  await page.getByRole('button', { name: 'Make a key' }).click();
  const secret = (await page.locator('.notice code').textContent()).trim();
  const id = secret.slice(4, 20);
  const row = page.getByRole('row').filter({ hasText: id });
  for (const shown of ['Kim Lee', 'Dana Smith'].filter((n) => (role === 'org-admin') === (n === 'Kim Lee'))) {
    await row.getByText(shown).waitFor();
  }
  await row.getByText('never').first().waitFor();
  await check(page, name('api-keys'));
  await row.getByRole('link', { name: `Revoke key ${id}` }).click();
  await page.getByRole('heading', { name: `Revoke API key ${id}?` }).waitFor();
  await check(page, name('confirm-revoke'));
  if (screen === 'desktop') {
    // Asked, not done: the way back changes nothing.
    await page.getByRole('link', { name: 'Cancel' }).click();
    await page.getByRole('row').filter({ hasText: id }).getByRole('link', { name: `Revoke key ${id}` }).waitFor();
  } else {
    await page.getByRole('button', { name: 'Revoke the key' }).click();
    await page.getByRole('status').filter({ hasText: 'The key is revoked' }).waitFor();
    await page.getByRole('row').filter({ hasText: id }).getByText(/^revoked /).waitFor();
    // Asked again: a conflict page that says what happened and offers the way back.
    const twice = await page.goto(`${url}/ui/api-keys/${id}/revoke`);
    assert.equal(twice.status(), 409);
    await page.getByRole('alert').filter({ hasText: 'This key is revoked already.' }).waitFor();
    await page.getByRole('link', { name: 'Back to the dashboard' }).waitFor();
    await check(page, name('conflict'));
    await page.getByRole('link', { name: 'Back to the dashboard' }).click();
  }

  await page.getByRole('link', { name: 'Audit', exact: true }).click();
  await page.getByRole('heading', { name: 'Audit log' }).waitFor();
  await page.getByLabel('What').selectOption({ label: 'API key made' });
  await page.getByRole('button', { name: 'Filter' }).click();
  await page.waitForURL(/action=api_key\.created/);
  await page.getByRole('cell', { name: new RegExp(`made API key ${id}`) }).waitFor();
  assert.equal(await page.getByRole('cell', { name: /invited someone/ }).count(), 0, 'filtered');
  const apiPointer = await page.getByText('GET /v1/admin/audit').count();
  assert.equal(apiPointer, role === 'super-admin' ? 1 : 0, 'the admin API is pointed to only for those who may use it');
  await check(page, name('audit'));
}

test('staff and a customer work with people, keys and the audit log on a desktop and a phone', async () => {
  // The vendor's staff on a desktop invite Kim's colleague, then re-send the invitation.
  const staff = await signIn('desktop', 'dana@vendor.example');
  let page = staff.page;
  await page.getByRole('link', { name: 'People', exact: true }).click();
  await page.getByLabel('Business email').fill('lee@acme.example');
  await page.getByLabel('Role').selectOption('org-admin');
  await page.getByLabel(/^Organization/).selectOption({ label: 'Acme Corp' });
  await page.getByRole('button', { name: 'Invite' }).click();
  const first = (await page.locator('.notice code').textContent()).trim();
  await page.getByRole('button', { name: 'Re-send the invitation to lee@acme.example' }).click();
  await page.getByRole('status').filter({ hasText: 'the old one no longer works' }).waitFor();
  const second = (await page.locator('.notice code').textContent()).trim();
  assert.notEqual(first, second);
  const dead = await page.request.get(first);
  assert.equal(dead.status(), 404, 'the old link is dead');
  await tour(page, 'super-admin', 'desktop');
  // A person's page, and the question before removing them.
  await page.getByRole('link', { name: 'People', exact: true }).click();
  await page.getByRole('link', { name: 'Zed Park' }).click();
  await page.getByRole('heading', { name: 'Zed Park' }).waitFor();
  await page.getByText('Last sign-in').waitFor();
  await check(page, 'people-super-admin-desktop-person');
  await page.getByRole('link', { name: 'Remove Zed Park from the portal' }).click();
  await page.getByRole('heading', { name: 'Remove Zed Park?' }).waitFor();
  await check(page, 'people-super-admin-desktop-confirm-remove');
  await page.getByRole('link', { name: 'Cancel' }).click();
  await page.getByRole('link', { name: 'Zed Park' }).waitFor();
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: /Dana Smith/ }).click();
  await page.getByRole('heading', { name: 'Your profile' }).waitFor();
  await check(page, 'people-super-admin-desktop-profile');
  // Not found says so and offers the way back.
  const missing = await page.goto(`${url}/ui/api-keys/0000000000000000/revoke`);
  assert.equal(missing.status(), 404);
  await page.getByRole('alert').filter({ hasText: 'not yours to see' }).waitFor();
  await page.getByRole('link', { name: 'Back to the dashboard' }).waitFor();
  await check(page, 'people-not-found');
  await staff.context.close();

  // Kim on a desktop and on a phone: her organization only; she cancels the invitation.
  for (const screen of ['desktop', 'phone']) {
    const kim = await signIn(screen, 'kim@acme.example');
    await tour(kim.page, 'org-admin', screen);
    await kim.page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: /Kim Lee/ }).click();
    await kim.page.getByRole('heading', { name: 'Your profile' }).waitFor();
    await check(kim.page, `people-org-admin-${screen}-profile`);
    await kim.page.getByRole('link', { name: 'People', exact: true }).click();
    assert.equal(await kim.page.getByText('dana@vendor.example').count(), 0, "the vendor's staff are not listed");
    assert.equal(await kim.page.getByText('zed@globex.example').count(), 0, "another organization's people are not listed");
    if (screen === 'phone') {
      await kim.page.getByRole('button', { name: 'Cancel the invitation to lee@acme.example' }).click();
      await kim.page.getByRole('status').filter({ hasText: 'The invitation is cancelled' }).waitFor();
      assert.equal(await kim.page.getByRole('cell', { name: 'lee@acme.example' }).count(), 0);
    }
    await kim.context.close();
  }

  // The vendor's staff on a phone read the log: Kim's cancellation, in words.
  const phone = await signIn('phone', 'dana@vendor.example');
  await tour(phone.page, 'super-admin', 'phone');
  await phone.page.goto(`${url}/ui/audit`);
  await phone.page.getByRole('cell', { name: /Kim Lee cancelled an invitation/ }).waitFor();
  await phone.context.close();
});
