// Finding licenses in Debian's Chromium, headless, on a desktop and a phone, as the vendor's
// staff and as a customer's org-admin. Started by portal/tests/api/browser_find.rs, which
// starts the real portal with 110 licenses of Acme Corp and 20 of Globex Industries (one of
// them named by a formula) and passes:
//   PORTAL_URL, CHROMIUM, SCREENSHOTS (a directory), SUPER_EMAIL, ORG_ADMIN_EMAIL, PASSWORD.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { accessible, env } from './kit.mjs';

const url = env('PORTAL_URL');
const shots = env('SCREENSHOTS');
const password = env('PASSWORD');

let browser;
before(async () => {
  browser = await chromium.launch({ executablePath: env('CHROMIUM'), args: ['--no-sandbox'] });
});
after(async () => {
  await browser?.close();
});

// Nothing wider than the screen: no sideways scrolling on a phone, neither of the page nor
// inside a table's region (a list reads as cards there). The tables stay tables to a screen
// reader: Chromium's own accessibility tree still has their rows, headers and cells.
async function fits(page, name) {
  const { scroll, inner, regions } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    inner: window.innerWidth,
    regions: [...document.querySelectorAll('.table')]
      .filter((r) => r.scrollWidth > r.clientWidth)
      .map((r) => `${r.getAttribute('aria-label')}: ${r.scrollWidth}px in ${r.clientWidth}px`),
  }));
  assert.ok(scroll <= inner, `${name}: ${scroll}px wide on a ${inner}px screen`);
  if (inner <= 640) {
    assert.deepEqual(regions, [], `${name}: a table scrolls sideways on a ${inner}px screen`);
    await stillTables(page, name);
  }
}

// Each table of the page, as Chromium tells assistive technology: a table with column
// headers and cells, whatever its CSS.
async function stillTables(page, name) {
  const tables = await page.locator('table:visible').count();
  if (tables === 0) return;
  const cdp = await page.context().newCDPSession(page);
  const { nodes } = await cdp.send('Accessibility.getFullAXTree');
  await cdp.detach();
  const roles = (role) => nodes.filter((n) => !n.ignored && n.role?.value === role).length;
  assert.equal(roles('table'), tables, `${name}: every table is a table to a screen reader`);
  assert.ok(roles('columnheader') >= tables, `${name}: the tables keep their column headers`);
  assert.ok(roles('cell') > 0, `${name}: the tables keep their cells`);
}

async function check(page, name) {
  await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
  await accessible(page, name);
  await fits(page, name);
}

async function signIn(page, email) {
  await page.goto(`${url}/ui/signin`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${url}/ui`);
}

const count = (page) => page.locator('p.count').textContent();
const rows = (page) => page.locator('tbody tr').count();

const viewports = {
  desktop: { width: 1280, height: 800 },
  phone: { width: 390, height: 844 },
};

for (const [device, viewport] of Object.entries(viewports)) {
  test(`staff find, sort and page through licenses on a ${device}`, async () => {
    const context = await browser.newContext({ bypassCSP: true, viewport });
    const page = await context.newPage();
    await signIn(page, env('SUPER_EMAIL'));
    await check(page, `find-${device}-staff-1-dashboard`);

    // The dashboard's card opens the list it counts.
    const valid = Number(await page.locator('a.card', { hasText: 'valid' }).first().locator('.n').textContent());
    await page.locator('a.card', { hasText: 'valid' }).first().click();
    await page.waitForURL(/standing=valid/);
    assert.equal(await count(page), `${valid} licenses match.`);

    // A part of a name, in any case; the filters go into the address.
    await page.goto(`${url}/ui/licenses`);
    await page.getByLabel('Customer name contains').fill('GLOBEX');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/q=GLOBEX/);
    assert.equal(await count(page), '20 licenses match.');
    assert.equal(await rows(page), 20);
    await check(page, `find-${device}-staff-2-search`);

    // Too short to search by: said, not silently ignored.
    await page.getByLabel('Customer name contains').fill('ac');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.getByRole('status').filter({ hasText: 'Type at least 3 characters' }).waitFor();
    await check(page, `find-${device}-staff-3-too-short`);

    // Sorted by a column's heading, then the other way; pages forwards and back.
    await page.goto(`${url}/ui/licenses?q=acme`);
    assert.equal(await count(page), '110 licenses match.');
    await page.getByRole('link', { name: 'Ends: sort ascending' }).click();
    await page.waitForURL(/sort=ends&dir=asc/);
    assert.equal(await page.locator('th[aria-sort="ascending"]').textContent(), 'Ends ↑');
    await page.getByRole('link', { name: 'Ends: sort descending' }).click();
    await page.waitForURL(/sort=ends&dir=desc/);
    const firstOfPageOne = await page.locator('tbody tr a').first().textContent();
    assert.equal(await rows(page), 100);
    await check(page, `find-${device}-staff-4-sorted`);
    await page.getByRole('link', { name: 'Next page →' }).click();
    await page.waitForURL(/after=/);
    assert.equal(await rows(page), 10);
    await check(page, `find-${device}-staff-5-page-two`);
    await page.getByRole('link', { name: '← Previous page' }).click();
    await page.waitForURL(/before=/);
    assert.equal(await page.locator('tbody tr a').first().textContent(), firstOfPageOne);

    // The download carries the same filters, and a formula comes out as text.
    const href = await page.getByRole('link', { name: 'Download this list (CSV)' }).getAttribute('href');
    assert.match(href, /^\/ui\/licenses\.csv\?q=acme&sort=ends&dir=desc$/);
    const csv = await page.request.get(`${url}/ui/licenses.csv?q=globex`);
    assert.equal(csv.status(), 200);
    const lines = (await csv.text()).trim().split('\r\n');
    assert.equal(lines.length, 21);
    assert.ok(lines.some((l) => l.includes(",'=Globex")), 'the formula is escaped');
    assert.ok(!lines.some((l) => l.includes(',=Globex')), 'no cell starts with =');

    // Two licenses chosen on the list, suspended after a page that names them.
    await page.goto(`${url}/ui/licenses?q=globex&sort=customer`);
    const boxes = page.getByRole('checkbox');
    const chosen = [await boxes.nth(0).getAttribute('value'), await boxes.nth(1).getAttribute('value')];
    await boxes.nth(0).check();
    await boxes.nth(1).check();
    await page.getByLabel('Change the chosen licenses').selectOption('suspend');
    await page.getByRole('button', { name: 'Review the change' }).click();
    await page.getByRole('heading', { name: 'Suspend 2 licenses?' }).waitFor();
    for (const id of chosen) await page.getByText(id).waitFor();
    await check(page, `find-${device}-staff-6-bulk-confirm`);
    await page.getByRole('button', { name: 'Suspend 2 licenses' }).click();
    await page.getByRole('heading', { name: 'Suspend: 2 of 2 licenses' }).waitFor();
    await check(page, `find-${device}-staff-7-bulk-done`);

    // One license's page: its hub, its terms, twelve months of validations.
    await page.getByRole('link', { name: chosen[0] }).click();
    await page.getByRole('heading', { name: `License ${chosen[0]}` }).waitFor();
    await page.getByText('Ping interval').waitFor();
    await check(page, `find-${device}-staff-8-license`);
    await page.getByRole('link', { name: 'Reinstate' }).click();
    await page.getByRole('heading', { name: `Reinstate license ${chosen[0]}?` }).waitFor();
    await check(page, `find-${device}-staff-9-confirm-one`);
    // Both reinstated one at a time, each after its own confirmation: as they were.
    for (const id of chosen) {
      await page.goto(`${url}/ui/licenses/${id}/confirm/reinstate`);
      await page.getByRole('button', { name: 'Reinstate' }).click();
      await page.getByRole('status').filter({ hasText: 'The license is reinstated.' }).waitFor();
    }
    // Extending: the portal cannot sign, so it says how: the command with this license's
    // terms, registering, the customer's activation.
    await page.goto(`${url}/ui/licenses/${chosen[0]}`);
    await page.getByRole('link', { name: 'Extend' }).click();
    await page.getByRole('heading', { name: `Extend license ${chosen[0]}` }).waitFor();
    const command = await page.locator('pre.command').first().textContent();
    assert.match(command, /^tessera issue --key signing\.key/);
    assert.match(command, /--org '?=?Globex (Industries|Labs)'? \\\n {2}--product acme-hub/);
    assert.match(command, /--register /);
    await check(page, `find-${device}-staff-10-extend`);
    await context.close();
  });

  test(`an org-admin finds only their organization's licenses on a ${device}`, async () => {
    const context = await browser.newContext({ bypassCSP: true, viewport });
    const page = await context.newPage();
    await signIn(page, env('ORG_ADMIN_EMAIL'));
    await page.getByRole('link', { name: 'Licenses', exact: true }).click();
    assert.equal(await count(page), '110 licenses match.');
    await page.getByLabel('Customer name contains').fill('globex');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/q=globex/);
    await page.getByText('No license matches.').waitFor();
    await check(page, `find-${device}-org-admin-1-other-name`);
    await page.getByLabel('Customer name contains').fill('acme');
    await page.getByLabel('Sort by').selectOption('customer');
    await page.getByLabel('Direction').selectOption('desc');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/sort=customer&dir=desc/);
    assert.equal(await rows(page), 100);
    await check(page, `find-${device}-org-admin-2-own`);
    const csv = await page.request.get(`${url}/ui/licenses.csv`);
    const text = await csv.text();
    assert.equal(text.trim().split('\r\n').length, 111);
    assert.ok(!text.includes('Globex'), "another organization's license in the download");
    await context.close();
  });
}
