// What the browser tests (*.test.mjs) share: their settings from the environment, and axe-core
// run on a page.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

// A setting the Rust side passes; missing, the test fails saying which.
export const env = (name) => {
  const value = process.env[name];
  assert.ok(value, `${name} is not set`);
  return value;
};

// axe-core on the page as it is: no violation of any impact. The page's CSP forbids
// scripts, so axe goes in through the browser's own channel (bypassCSP).
export async function accessible(page, name) {
  await page.addScriptTag({ content: axeSource });
  const result = await page.evaluate(async () => await window.axe.run(document));
  assert.deepEqual(
    result.violations.map(
      (v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`,
    ),
    [],
    `accessibility of ${name}`,
  );
}
