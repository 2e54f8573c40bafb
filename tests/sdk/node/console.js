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
const result = { ok: false, scenario, shots: [], overflow: [] };

function check(cond, message) {
  if (!cond) throw new Error(message);
}

async function shot(page, name) {
  if (!shots) return;
  fs.mkdirSync(shots, { recursive: true });
  for (const [label, width, height] of [['laptop', 1366, 800], ['phone', 390, 844]]) {
    await page.setViewportSize({ width, height });
    // Nothing may stick out sideways (tables scroll inside their own frame).
    const wide = await page.evaluate(() => {
      const out = [];
      for (const el of document.querySelectorAll('body *')) {
        if (el.closest('.table-wrap') && !el.classList.contains('table-wrap')) continue;
        const r = el.getBoundingClientRect();
        if (r.width > 0 && r.right > window.innerWidth + 1) {
          out.push(`${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}.${el.className} (${Math.round(r.right)}px)`);
        }
      }
      const doc = document.documentElement.scrollWidth;
      if (doc > window.innerWidth + 1) out.unshift(`the page is ${doc}px wide`);
      return out.slice(0, 5);
    });
    if (wide.length) result.overflow.push({ page: name, width, wide });
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

  // Objects: browse into folders, upload with an encryption choice (multipart past 16 MiB),
  // the detail panel, download, delete.
  async objects(page) {
    await login(page);
    await page.locator(`tr[data-bucket="${args.bucket}"]`).getByRole('link', { name: args.bucket }).click();
    await page.waitForLoadState();
    await shot(page, 'objects');
    // Folders.
    for (const part of args.folders || []) {
      await page.getByRole('link', { name: part }).click();
      await page.waitForLoadState();
    }
    result.listedInFolder = await page.locator('#objects tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.key));
    await shot(page, 'objects-folder');
    await page.goto(`${base}/buckets/${args.bucket}/objects`);
    // Upload.
    await page.getByText('Upload', { exact: true }).first().click();
    if (args.sse) await chooseEncryption(page, args);
    if (args.meta) await page.getByLabel('User metadata').fill(args.meta);
    await page.getByLabel('Files to upload').setInputFiles(args.file);
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    const summary = page.locator('#upload-summary');
    await summary.waitFor({ timeout: 120000 });
    result.upload = (await page.locator('#upload-status').innerText()).replace(/\s+/g, ' ');
    await shot(page, 'objects-uploaded');
    // Detail.
    await page.reload();
    const name = require('path').basename(args.file);
    await page.locator('#objects').getByRole('link', { name, exact: true }).click();
    await page.waitForLoadState();
    result.detail = {};
    for (const f of ['size', 'etag', 'crc64', 'content-type', 'encryption', 'cmk', 'meta']) {
      result.detail[f] = (await page.locator(`#detail-${f}`).innerText()).trim();
    }
    await shot(page, 'object-detail');
    // Download.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Download' }).click(),
    ]);
    await download.saveAs(args.saveAs);
    result.saved = args.saveAs;
  },

  // Deletes an object from its detail panel.
  async deleteObject(page) {
    await login(page);
    await page.goto(`${base}/buckets/${args.bucket}/objects/detail?key=${encodeURIComponent(args.key)}`);
    page.once('dialog', (d) => d.accept());
    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    result.flash = await flash(page);
    result.afterDelete = await page.locator('#objects tbody tr').count();
  },

  // A KMS key's life cycle: create, disable/enable, rotation policy and a new version, an alias,
  // schedule and cancel deletion.
  async keyLifecycle(page) {
    await login(page);
    await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'KMS keys' }).click();
    await page.waitForLoadState();
    await shot(page, 'keys');
    await page.getByLabel('Description').fill(args.description);
    await page.getByLabel('Key spec').selectOption(args.spec || 'Aliyun_AES_256');
    await page.getByRole('button', { name: 'Create key' }).click();
    result.created = await flash(page);
    result.keyId = (await page.locator('dd[data-field=KeyId]').innerText()).trim();
    const state = async () => (await page.locator('#state').innerText()).trim();
    result.states = [await state()];
    await shot(page, 'key');
    await page.getByRole('button', { name: 'Disable key' }).click();
    await flash(page);
    result.states.push(await state());
    await page.getByRole('button', { name: 'Enable key' }).click();
    await flash(page);
    result.states.push(await state());
    await page.getByLabel('Automatic rotation').check();
    await page.getByLabel('Rotation interval (days)').fill('30');
    await page.getByRole('button', { name: 'Save rotation policy' }).click();
    result.rotation = await flash(page);
    await page.getByRole('button', { name: 'Rotate now (new key version)' }).click();
    result.rotated = await flash(page);
    result.versions = await page.locator('#versions tbody tr').count();
    await page.getByLabel('Alias name').fill(args.alias);
    await page.getByRole('button', { name: 'Add alias' }).click();
    result.aliasFlash = await flash(page);
    result.aliases = (await page.locator('#key-aliases').innerText()).replace(/\s+/g, ' ');
    page.once('dialog', (d) => d.accept());
    await page.getByLabel('Waiting period (days)').fill('7');
    await page.getByRole('button', { name: 'Schedule deletion' }).click();
    result.scheduled = await flash(page);
    result.states.push(await state());
    await shot(page, 'key-pending-deletion');
    await page.getByRole('button', { name: 'Cancel deletion' }).click();
    await flash(page);
    result.states.push(await state());
    // A refused action reads as the KMS code in words: a too short waiting period.
    page.once('dialog', (d) => d.accept());
    await page.getByLabel('Waiting period (days)').fill('3');
    await page.getByLabel('Waiting period (days)').evaluate((el) => el.removeAttribute('min'));
    await page.getByRole('button', { name: 'Schedule deletion' }).click();
    result.refused = await flash(page);
    await shot(page, 'key-refused');
  },

  // BYOK, step 1: an EXTERNAL key and its import parameters.
  async byokStart(page) {
    await login(page);
    await page.goto(`${base}/kms/keys`);
    await page.getByLabel('Description').fill('byok');
    await page.getByLabel('Key material origin').selectOption('EXTERNAL');
    await page.getByRole('button', { name: 'Create key' }).click();
    await flash(page);
    result.keyId = (await page.locator('dd[data-field=KeyId]').innerText()).trim();
    result.state = (await page.locator('#state').innerText()).trim();
    await page.getByRole('button', { name: 'Get wrapping key and token' }).click();
    await page.waitForLoadState();
    result.publicKey = await page.getByLabel('Wrapping public key (base64 DER)').inputValue();
    result.token = await page.getByLabel('Import token').inputValue();
    await shot(page, 'byok-parameters');
  },

  // BYOK, step 2: the wrapped material uploaded.
  async byokFinish(page) {
    await login(page);
    await page.goto(`${base}/kms/keys/${args.keyId}`);
    await page.getByLabel('Encrypted key material (base64)').fill(args.material);
    await page.getByLabel('Import token').fill(args.token);
    await page.getByRole('button', { name: 'Import key material' }).click();
    result.flash = await flash(page);
    result.state = (await page.locator('#state').innerText()).trim();
    await shot(page, 'byok-imported');
  },

  // A RAM user who may only read one bucket: what it sees, and the denials it gets.
  // Login with STS credentials (key id, secret and security token of an assumed role).
  async stsLogin(page) {
    await login(page, process.env.COFFER_AK, process.env.COFFER_SK, args.token);
    result.who = (await page.locator('.who .principal').innerText()).trim();
    result.buckets = await page.locator('#buckets tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.bucket));
    await shot(page, 'sts-buckets');
    // The same key pair without its token is refused, in words, and no session is made.
    await page.context().clearCookies();
    await login(page, process.env.COFFER_AK, process.env.COFFER_SK);
    result.withoutToken = await flash(page);
    result.afterRefusal = new URL(page.url()).pathname;
  },

  async ramReadOnly(page) {
    await login(page);
    result.who = (await page.locator('.who .principal').innerText()).trim();
    result.buckets = await page.locator('#buckets tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.bucket));
    await shot(page, 'ram-buckets');
    await page.locator(`tr[data-bucket="${args.bucket}"]`).getByRole('link', { name: args.bucket }).click();
    await page.waitForLoadState();
    result.objects = await page.locator('#objects tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.key));
    // Writing is refused, in words.
    await page.getByText('Upload', { exact: true }).first().click();
    await page.getByLabel('Files to upload').setInputFiles(args.file);
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    await page.locator('#upload-summary').waitFor();
    result.upload = (await page.locator('#upload-status').innerText()).replace(/\s+/g, ' ');
    await shot(page, 'ram-upload-denied');
    page.once('dialog', (d) => d.accept());
    await page.getByRole('button', { name: `Delete ${args.object}` }).click();
    result.deleteObject = await flash(page);
    await page.getByRole('navigation', { name: 'Bucket' }).getByRole('link', { name: 'Server-side encryption' }).click();
    result.encryptionPage = await flash(page);
    await shot(page, 'ram-encryption-denied');
    await page.goto(`${base}/buckets/new`);
    await page.getByLabel('Bucket name').fill(args.newBucket);
    await page.getByRole('button', { name: 'Create bucket' }).click();
    result.createBucket = await flash(page);
    await page.goto(`${base}/buckets/${args.other}/objects`);
    result.otherBucket = await flash(page);
    await page.goto(`${base}/kms/keys`);
    result.keys = await flash(page);
    await shot(page, 'ram-keys-denied');
  },

  // Session cookie as the browser keeps it, and logout.
  async cookieAndLogout(page, context) {
    await login(page);
    result.cookies = (await context.cookies()).map((c) => ({ name: c.name, httpOnly: c.httpOnly, sameSite: c.sameSite, secure: c.secure, path: c.path }));
    result.scriptSees = await page.evaluate(() => document.cookie);
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForLoadState();
    result.afterLogout = new URL(page.url()).pathname;
    result.loggedOut = await flash(page).catch(() => '');
    await page.goto(`${base}/buckets`);
    result.afterLogoutBuckets = new URL(page.url()).pathname;
  },

  // Re-encrypt existing objects: the job, its progress and its summary.
  async reencrypt(page) {
    await login(page);
    await page.goto(`${base}/buckets/${args.bucket}/encryption`);
    if (args.rewrap) {
      await page.getByLabel('Only change the key where possible (no data copied)').check();
      await shot(page, 'reencrypt-rewrap-form');
    }
    await page.getByRole('button', { name: 'Re-encrypt existing objects' }).click();
    await page.waitForLoadState();
    await page.locator('#job-state', { hasText: 'Finished' }).waitFor({ timeout: 60000 });
    result.summary = {};
    const fields = ['listed', 'rewritten', 'already', 'skipped', 'failed'];
    if (args.rewrap) fields.push('rewrapped');
    for (const f of fields) {
      result.summary[f] = Number((await page.locator(`#job-${f}`).innerText()).trim().split(' ')[0]);
    }
    await shot(page, 'reencrypt');
  },

  // Users, access keys (the secret once), the policy editor with the server's message,
  // attach, groups, roles.
  async identities(page) {
    await login(page);
    await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Users and policies' }).click();
    await page.waitForLoadState();
    await page.getByLabel('User name', { exact: true }).fill(args.user);
    await page.getByRole('button', { name: 'Create user' }).click();
    result.userCreated = await flash(page);
    await shot(page, 'identities');
    // The policy editor: a broken document is refused with the server's reason, and kept.
    await page.getByLabel('Policy name', { exact: true }).fill(args.policy);
    await page.getByLabel('Policy document').fill(args.badDocument);
    await page.getByRole('button', { name: 'Create policy' }).click();
    await page.waitForLoadState();
    result.policyRefused = (await page.locator('#policy-editor .notice').innerText()).trim();
    result.documentKept = await page.getByLabel('Policy document').inputValue();
    await shot(page, 'policy-refused');
    await page.getByLabel('Policy document').fill(args.document);
    await page.getByRole('button', { name: 'Create policy' }).click();
    result.policyCreated = await flash(page);
    await page.getByLabel('Policy to attach or detach').fill(args.policy);
    await page.getByLabel('Attach to').selectOption('User');
    await page.getByLabel('User, group or role name').fill(args.user);
    await page.getByRole('button', { name: 'Attach', exact: true }).click();
    result.attached = await flash(page);
    await page.getByLabel('Group name', { exact: true }).fill(args.group);
    await page.getByRole('button', { name: 'Create group' }).click();
    result.groupCreated = await flash(page);
    await page.getByLabel('Role name', { exact: true }).fill(args.role);
    await page.getByRole('button', { name: 'Create role' }).click();
    result.roleCreated = await flash(page);
    result.roles = await page.locator('#roles tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.role));
    // The user's page: an access key, its secret shown once.
    await page.locator(`tr[data-user="${args.user}"]`).getByRole('link', { name: args.user }).click();
    await page.waitForLoadState();
    await page.getByLabel('Add to group').fill(args.group);
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    result.addedToGroup = await flash(page);
    await page.getByRole('button', { name: 'Create access key' }).click();
    await page.waitForLoadState();
    result.keyId = (await page.locator('#new-key code').innerText()).trim();
    result.secret = (await page.locator('#new-secret').innerText()).trim();
    result.afterCreate = new URL(page.url()).pathname;
    result.keysAfterCreate = await page.locator('#access-keys tbody tr').count();
    await shot(page, 'user-new-key');
    // A browser refresh of the page that showed the secret: no second key, no secret again.
    await page.reload();
    await page.waitForLoadState();
    result.secretAfterRefresh = await page.locator('#new-secret').count();
    result.keysAfterRefresh = await page.locator('#access-keys tbody tr').count();
    await page.goto(`${base}/identities/users/${encodeURIComponent(args.user)}`);
    result.secretAfterReload = await page.locator('#new-secret').count();
    result.userPolicies = (await page.locator('#user-policies').innerText()).trim();
    result.userGroups = (await page.locator('#user-groups').innerText()).trim();
    await shot(page, 'user');
  },

  // Usage and audit: the chart of calls per key per day, the totals, and the trail filtered.
  async usageAudit(page) {
    await login(page);
    await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Usage and audit' }).click();
    await page.waitForLoadState();
    if (args.key) {
      await page.getByLabel('KMS key', { exact: true }).fill(args.key);
      await page.getByLabel('Days', { exact: true }).selectOption('7');
      await page.getByRole('button', { name: 'Show' }).click();
      await page.waitForLoadState();
    }
    result.chartLabel = await page.locator('#usage-chart').getAttribute('aria-label').catch(() => null);
    result.bars = await page.locator('#usage-chart rect').count();
    result.daily = await page.locator('#usage-daily tbody tr').evaluateAll((rows) => rows.map((r) => ({
      day: r.dataset.day, total: Number(r.querySelector('td.total').innerText) })));
    result.totals = await page.locator('#usage-totals tbody tr').evaluateAll((rows) => rows.map((r) =>
      Array.from(r.querySelectorAll('td')).map((td) => td.innerText.trim())));
    result.usageError = await page.locator('main .notice[role=alert]').first().innerText().catch(() => '');
    await shot(page, 'usage');
    await page.getByRole('navigation', { name: 'Usage and audit' }).getByRole('link', { name: 'Audit trail' }).click();
    await page.waitForLoadState();
    for (const [label, value] of Object.entries(args.auditFilters || {})) {
      await page.getByLabel(label, { exact: true }).fill(value);
    }
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForLoadState();
    result.auditError = await page.locator('main .notice[role=alert]').first().innerText().catch(() => '');
    result.audit = await page.locator('#audit tbody tr').evaluateAll((rows) => rows.map((r) =>
      Array.from(r.querySelectorAll('td')).map((td) => td.innerText.trim())));
    result.auditScope = await page.locator('#audit-scope').innerText().catch(() => '');
    await shot(page, 'audit');
    if (result.audit.length) {
      await page.getByRole('link', { name: 'Show from the oldest' }).click();
      await page.waitForLoadState();
      result.oldestFirst = await page.locator('#audit tbody tr').evaluateAll((rows) => rows.map((r) =>
        r.querySelector('td').innerText.trim()));
    }
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
