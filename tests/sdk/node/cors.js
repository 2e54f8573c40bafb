// A page on another origin writes and reads an object through fetch(), in Debian's Chromium
// driven by playwright-core; run by test_bucket_subresources.py, which sets the bucket's CORS
// rules and checks the outcome through oss2.
//
// Usage: node cors.js   with env
//   COFFER_PAGE      the URL of the page to run in (served by the test: its origin is the one
//                    the rules allow or refuse)
//   COFFER_OBJECT    the object's URL on coffer (a public-read-write bucket: no signing)
//   COFFER_BODY      what to PUT
//   COFFER_CHROMIUM  the browser (default /usr/bin/chromium)
// Prints one JSON line {"ok": bool, "put": ..., "get": ..., "error": "..."}: each of put and get
// is {"status", "text", "etag"} when the browser let the page see the answer, or {"refused":
// "<error name>"} when it did not.
'use strict';

const { chromium } = require('playwright-core');

const result = { ok: false };

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.COFFER_CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
  try {
    const page = await browser.newPage();
    await page.goto(process.env.COFFER_PAGE);
    const outcome = await page.evaluate(async ({ url, body }) => {
      async function attempt(init) {
        try {
          const r = await fetch(url, init);
          return { status: r.status, text: await r.text(), etag: r.headers.get('ETag') };
        } catch (e) {
          return { refused: e.name };
        }
      }
      const put = await attempt({ method: 'PUT', body, headers: { 'x-oss-meta-from': 'browser' } });
      const get = await attempt({ method: 'GET', cache: 'no-store' });
      return { put, get };
    }, { url: process.env.COFFER_OBJECT, body: process.env.COFFER_BODY });
    Object.assign(result, outcome, { ok: true });
  } catch (e) {
    result.error = String(e && e.stack || e);
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(result));
  process.exit(result.ok ? 0 : 1);
})();
