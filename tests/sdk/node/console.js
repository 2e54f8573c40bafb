// Browser flows of coffer's web console in Debian's Chromium, driven by playwright-core; run by
// test_console.py, which checks the results through oss2.
//
// Usage: node console.js <scenario>   with env
//   COFFER_CONSOLE  the console's URL         COFFER_AK / COFFER_SK  the key pair to log in with
//   COFFER_ARGS     JSON arguments of the scenario
//   COFFER_SHOTS    directory for screenshots (one per page visited, laptop and phone widths)
//   COFFER_CHROMIUM the browser (default /usr/bin/chromium)
// Prints one JSON line {"ok": bool, ...results, "error": "..."}; exits 0 only when ok.
'use strict';

const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

const scenario = process.argv[2];
const base = process.env.COFFER_CONSOLE;
const args = JSON.parse(process.env.COFFER_ARGS || '{}');
const shots = process.env.COFFER_SHOTS;
const result = { ok: false, scenario, shots: [] };

function check(cond, message) {
  if (!cond) throw new Error(message);
}

async function shot(page, name) {
  if (!shots) return;
  fs.mkdirSync(shots, { recursive: true });
  for (const [label, width, height] of [['laptop', 1366, 800], ['phone', 390, 844]]) {
    await page.setViewportSize({ width, height });
    const file = path.join(shots, `${scenario}-${name}-${label}.png`);
    await page.screenshot({ path: file, fullPage: true });
    result.shots.push(file);
  }
  await page.setViewportSize({ width: 1366, height: 800 });
}

// The notice a form left (success or error), as text.
async function flash(page) {
  const n = page.locator('main .notice[role=status], main .notice[role=alert]').first();
  await n.waitFor();
  return (await n.innerText()).trim();
}

async function login(page, ak = process.env.COFFER_AK, sk = process.env.COFFER_SK, token) {
  await page.goto(`${base}/login`);
  await page.getByLabel('AccessKey ID').fill(ak);
  await page.getByLabel('AccessKey secret').fill(sk);
  if (token) await page.getByLabel('Security token (STS credentials only)').fill(token);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForLoadState();
}

// Chooses the "Server-side encryption" fields: sse None|OSS-managed|KMS, algorithm, KMS key.
async function chooseEncryption(page, { sse, algorithm, key }) {
  await page.getByLabel(sse, { exact: true }).check();
  if (sse !== 'None') {
    const alg = page.getByLabel(algorithm || 'AES256', { exact: true });
    check(await alg.isVisible(), '"Encryption algorithm" is not shown for ' + sse);
    await alg.check();
  } else {
    check(!(await page.getByText('Encryption algorithm').isVisible()), '"Encryption algorithm" shown for None');
  }
  if (sse === 'KMS') {
    await page.getByLabel('KMS key').selectOption(key || 'alias/acs/oss');
  }
}

const scenarios = {
  // Bucket list → Create bucket → Server-side encryption → Create bucket.
  async createBucket(page) {
    await login(page);
    check(new URL(page.url()).pathname === '/buckets', 'login did not land on the bucket list: ' + page.url());
    await shot(page, 'buckets');
    await page.getByRole('link', { name: 'Create bucket' }).click();
    await page.getByLabel('Bucket name').fill(args.bucket);
    await chooseEncryption(page, args);
    await shot(page, 'create-bucket');
    await page.getByRole('button', { name: 'Create bucket' }).click();
    result.flash = await flash(page);
    const row = page.locator(`tr[data-bucket="${args.bucket}"]`);
    await row.waitFor();
    result.row = (await row.innerText()).replace(/\s+/g, ' ');
    await shot(page, 'buckets-after');
  },

  // A refused Create bucket: the form again, with the error in words.
  async createBucketRefused(page) {
    await login(page);
    await page.goto(`${base}/buckets/new`);
    await page.getByLabel('Bucket name').fill(args.bucket);
    await chooseEncryption(page, args);
    await page.getByRole('button', { name: 'Create bucket' }).click();
    result.flash = await flash(page);
    result.nameKept = await page.getByLabel('Bucket name').inputValue();
    await shot(page, 'create-refused');
  },

  // Bucket → Data security → Server-side encryption → Set → choose → Save.
  async setEncryption(page) {
    await login(page);
    await page.locator(`tr[data-bucket="${args.bucket}"]`).getByRole('link', { name: args.bucket }).click();
    await page.getByRole('navigation', { name: 'Bucket' }).getByRole('link', { name: 'Server-side encryption' }).click();
    await page.waitForLoadState();
    result.before = (await page.locator('#rule-method').innerText()).trim();
    result.notice = (await page.locator('.notice.info').innerText()).trim();
    await shot(page, 'encryption');
    await page.getByRole('link', { name: 'Set', exact: true }).click();
    await chooseEncryption(page, args);
    await shot(page, 'encryption-set');
    await page.getByRole('button', { name: 'Save' }).click();
    result.flash = await flash(page);
    result.after = {
      method: (await page.locator('#rule-method').innerText()).trim(),
      algorithm: (await page.locator('#rule-algorithm').innerText()).trim(),
      key: (await page.locator('#rule-key').innerText()).trim(),
    };
    await shot(page, 'encryption-saved');
  },

  // Removes the bucket's rule (confirming the dialog).
  async removeEncryption(page) {
    await login(page);
    await page.goto(`${base}/buckets/${args.bucket}/encryption`);
    page.once('dialog', (d) => d.accept());
    await page.getByRole('button', { name: 'Remove encryption' }).click();
    result.flash = await flash(page);
    result.after = (await page.locator('#rule-method').innerText()).trim();
  },

  // Deletes a bucket from the list.
  async deleteBucket(page) {
    await login(page);
    page.once('dialog', (d) => d.accept());
    await page.getByRole('button', { name: `Delete ${args.bucket}` }).click();
    result.flash = await flash(page);
    result.listed = await page.locator(`tr[data-bucket="${args.bucket}"]`).count();
    await shot(page, 'delete-bucket');
  },
};

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.COFFER_CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
  try {
    const context = await browser.newContext({ viewport: { width: 1366, height: 800 } });
    const page = await context.newPage();
    page.setDefaultTimeout(20000);
    const fn = scenarios[scenario];
    check(fn, `unknown scenario ${scenario}`);
    await fn(page, context);
    result.ok = true;
  } catch (e) {
    result.error = String(e && e.stack || e);
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(result));
  process.exit(result.ok ? 0 : 1);
})();
