// The vendor's confirmation before freeing a license's countersigned runner places, in
// Debian's Chromium, headless, on a desktop and a phone. Started by
// portal/tests/api/browser_places.rs, which starts the real portal with one Acme Corp license
// (`runner_countersign`, 3 runners) holding three places, and passes:
//   PORTAL_URL, CHROMIUM, SCREENSHOTS (a directory), SUPER_EMAIL, PASSWORD, LICENSE_ID,
//   PLACES (the three place ids, comma-separated).
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { accessible, env } from './kit.mjs';

const url = env('PORTAL_URL');
const shots = env('SCREENSHOTS');
const licenseId = env('LICENSE_ID');
const places = env('PLACES').split(',');

let browser;
before(async () => {
  browser = await chromium.launch({ executablePath: env('CHROMIUM'), args: ['--no-sandbox'] });
});
after(async () => {
  await browser?.close();
});

// Nothing wider than the screen: no sideways scrolling of the page or inside a table.
async function fits(page, name) {
  const { scroll, inner, regions } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    inner: window.innerWidth,
    regions: [...document.querySelectorAll('.table')]
      .filter((r) => r.scrollWidth > r.clientWidth)
      .map((r) => `${r.getAttribute('aria-label')}: ${r.scrollWidth}px in ${r.clientWidth}px`),
  }));
  assert.ok(scroll <= inner, `${name}: ${scroll}px wide on a ${inner}px screen`);
  assert.deepEqual(regions, [], `${name}: a table scrolls sideways`);
}

async function check(page, name) {
  await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
  await accessible(page, name);
  await fits(page, name);
}

async function signIn(page, email) {
  await page.goto(`${url}/ui/signin`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(env('PASSWORD'));
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${url}/ui`);
}

// The desktop frees one place, then the phone the two left.
const runs = [
  ['desktop', { width: 1280, height: 800 }, places.slice(0), `only ${places[0]}`, places.slice(1)],
  ['phone', { width: 390, height: 844 }, places.slice(1), 'all of them', []],
];

for (const [device, viewport, held, choice, left] of runs) {
  test(`staff free runner places after a confirmation on a ${device}`, async () => {
    const context = await browser.newContext({ bypassCSP: true, viewport });
    const page = await context.newPage();
    await signIn(page, env('SUPER_EMAIL'));
    await page.goto(`${url}/ui/licenses/${licenseId}`);
    await page.getByRole('heading', { name: 'Runner places' }).waitFor();
    await check(page, `places-${device}-1-license`);

    // The confirmation names the license and every place held; nothing is chosen for the
    // person, so sending it unchosen frees nothing.
    await page.getByRole('link', { name: 'Free runner places' }).click();
    await page.waitForURL(`${url}/ui/licenses/${licenseId}/runner-places`);
    await page.getByRole('heading', { name: `Free the runner places of license ${licenseId}?` }).waitFor();
    await page.getByText(`${held.length} of 3 places are held now.`).waitFor();
    for (const place of held) {
      await page.getByRole('cell', { name: place }).waitFor();
    }
    const select = page.getByLabel('Places to free');
    assert.equal(await select.inputValue(), '');
    assert.deepEqual(
      await select.locator('option').allTextContents(),
      ['choose…', 'all of them', ...held.map((place) => `only ${place}`)],
    );
    await check(page, `places-${device}-2-confirm`);

    // Cancel goes back to the license, unchanged.
    await page.getByRole('link', { name: 'Cancel' }).click();
    await page.waitForURL(`${url}/ui/licenses/${licenseId}`);
    await page.getByRole('link', { name: 'Free runner places' }).click();

    await page.getByLabel('Places to free').selectOption({ label: choice });
    await page.getByRole('button', { name: 'Free runner places' }).click();
    await page.waitForURL(/done=runner-places-freed/);
    await page.getByRole('status').filter({ hasText: 'The runner places are freed' }).waitFor();
    if (left.length > 0) {
      await page.getByText(`${left.length} of 3 runner places held at the portal`).waitFor();
      assert.equal(await page.getByRole('cell', { name: places[0] }).count(), 0, 'the freed place is gone');
    } else {
      // None held: the license (which counts its runners here) says so, with nothing to free.
      await page.getByText('0 of 3 runner places held at the portal').waitFor();
      await page.getByText('No runner holds a place now').waitFor();
      assert.equal(await page.getByRole('link', { name: 'Free runner places' }).count(), 0);
    }
    await check(page, `places-${device}-3-freed`);
    await context.close();
  });
}
