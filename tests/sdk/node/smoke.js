// ali-oss smoke test against a running coffer; driven by test_node.py.
//
// Usage: node smoke.js <mode>   with env COFFER_PORT, COFFER_AK, COFFER_SK, COFFER_BUCKET, COFFER_TMP
//   mode "sld": endpoint http://localhost:PORT with sldEnable (pure path style, so presigning works)
//   mode "sld-v4": the same, V4-signed; mode "sld-https": the same over https (NODE_EXTRA_CA_CERTS)
//   mode "ip":  endpoint http://127.0.0.1:PORT without sldEnable: ali-oss sends the request to the
//               IP but sets Host: <bucket>.oss-cn-hangzhou.aliyuncs.com (its getReqUrl.js)
// Prints one JSON object on stdout: {"ok": bool, "steps": [...], "requests": [...], "error": ...}.
// Exits 0 only if every step passed.
'use strict';

const assert = require('assert');
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const urllib = require('urllib');
const OSS = require('ali-oss');

const mode = process.argv[2];
const port = process.env.COFFER_PORT;
const bucket = process.env.COFFER_BUCKET;
const tmp = process.env.COFFER_TMP;

// Record what ali-oss actually sends (URL and Host header), then pass the request through.
const requests = [];
const recordingUrllib = {
  request(url, params) {
    const headers = (params && params.headers) || {};
    const host = headers.host || headers.Host || null;
    requests.push({ method: params && params.method, url: String(url), host, hasDate: 'Date' in headers || 'date' in headers, xOssDate: headers['x-oss-date'] || null });
    return urllib.request(url, params);
  },
};

const options = {
  accessKeyId: process.env.COFFER_AK,
  accessKeySecret: process.env.COFFER_SK,
  bucket,
  region: 'oss-cn-hangzhou',
  urllib: recordingUrllib,
  timeout: 60000,
  secure: false,
};
if (mode === 'sld') {
  options.endpoint = `http://localhost:${port}`;
  options.sldEnable = true;
} else if (mode === 'ip') {
  options.endpoint = `http://127.0.0.1:${port}`;
} else if (mode === 'sld-v4') {
  options.endpoint = `http://localhost:${port}`;
  options.sldEnable = true;
  options.authorizationV4 = true;
} else if (mode === 'sld-https') {
  // Over TLS: the server's self-signed certificate is trusted through NODE_EXTRA_CA_CERTS.
  options.endpoint = `https://localhost:${port}`;
  options.secure = true;
  options.sldEnable = true;
  options.authorizationV4 = true;
} else {
  throw new Error(`unknown mode ${mode}`);
}

const client = new OSS(options);
const steps = [];

async function step(name, fn) {
  try {
    await fn();
    steps.push({ name, ok: true });
  } catch (err) {
    steps.push({ name, ok: false, error: `${err.name || 'Error'}: ${err.message}`, code: err.code || null, status: err.status || null });
  }
}

async function main() {
  const key = 'node/dir/a b+c&ü.txt';
  const body = Buffer.from('hello from ali-oss ' + crypto.randomBytes(8).toString('hex'));

  await step('put', async () => {
    const r = await client.put(key, body, { headers: { 'x-oss-meta-origin': 'node' }, mime: 'text/plain' });
    assert.strictEqual(r.res.status, 200);
  });
  await step('get', async () => {
    const r = await client.get(key);
    assert.strictEqual(r.res.status, 200);
    assert.ok(Buffer.compare(r.content, body) === 0, 'content differs');
  });
  await step('head', async () => {
    const r = await client.head(key);
    assert.strictEqual(r.status, 200);
    assert.strictEqual(r.meta.origin, 'node');
    assert.strictEqual(Number(r.res.headers['content-length']), body.length);
    const md5 = crypto.createHash('md5').update(body).digest('hex').toUpperCase();
    assert.strictEqual(r.res.headers.etag, `"${md5}"`);
  });
  await step('list', async () => {
    const r = await client.list({ prefix: 'node/', 'max-keys': 100 });
    assert.deepStrictEqual((r.objects || []).map((o) => o.name), [key]);
    const d = await client.list({ prefix: 'node/', delimiter: '/' });
    assert.deepStrictEqual(d.prefixes, ['node/dir/']);
  });
  await step('listV2', async () => {
    const r = await client.listV2({ prefix: 'node/', 'max-keys': 100 });
    assert.deepStrictEqual((r.objects || []).map((o) => o.name), [key]);
  });
  await step('copy', async () => {
    const r = await client.copy('node/copy.txt', key);
    assert.strictEqual(r.res.status, 200);
    const g = await client.get('node/copy.txt');
    assert.ok(Buffer.compare(g.content, body) === 0, 'copy content differs');
  });
  await step('range', async () => {
    const r = await client.get(key, { headers: { Range: 'bytes=0-4' } });
    assert.strictEqual(r.res.status, 206);
    assert.strictEqual(r.content.toString(), 'hello');
  });
  await step('append', async () => {
    let r = await client.append('node/app.log', Buffer.from('abc'));
    assert.strictEqual(Number(r.nextAppendPosition), 3);
    r = await client.append('node/app.log', Buffer.from('def'), { position: r.nextAppendPosition });
    assert.strictEqual(Number(r.nextAppendPosition), 6);
    const g = await client.get('node/app.log');
    assert.strictEqual(g.content.toString(), 'abcdef');
  });
  await step('multipartUpload', async () => {
    const data = crypto.randomBytes(3 * 1024 * 1024 + 4321);
    const file = path.join(tmp, `mp-${mode}.bin`);
    fs.writeFileSync(file, data);
    const r = await client.multipartUpload('node/mp.bin', file, { partSize: 1024 * 1024, parallel: 3 });
    assert.strictEqual(r.res.status, 200);
    const g = await client.get('node/mp.bin');
    assert.ok(Buffer.compare(g.content, data) === 0, 'multipart content differs');
    const h = await client.head('node/mp.bin');
    assert.strictEqual(h.res.headers['x-oss-object-type'], 'Multipart');
  });
  await step('missingKeyGet', async () => {
    await assert.rejects(client.get('node/missing'), (err) => {
      assert.strictEqual(err.status, 404);
      assert.strictEqual(err.code, 'NoSuchKey');
      assert.strictEqual(err.name, 'NoSuchKeyError');
      return true;
    });
  });
  await step('missingKeyHead', async () => {
    await assert.rejects(client.head('node/missing'), (err) => {
      assert.strictEqual(err.status, 404);
      assert.strictEqual(err.code, 'NoSuchKey');
      return true;
    });
  });
  await step('deleteMulti', async () => {
    const r = await client.deleteMulti(['node/copy.txt', 'node/app.log', 'node/nope'], { quiet: false });
    assert.strictEqual(r.res.status, 200);
    assert.deepStrictEqual(r.deleted.map((d) => d.Key || d).sort(), ['node/app.log', 'node/copy.txt', 'node/nope']);
  });
  await step('delete', async () => {
    let r = await client.delete(key);
    assert.strictEqual(r.res.status, 204);
    r = await client.delete('node/mp.bin');
    assert.strictEqual(r.res.status, 204);
    await assert.rejects(client.head(key), (err) => err.status === 404);
  });
  await step('listBuckets', async () => {
    const r = await client.listBuckets({ prefix: bucket });
    assert.ok((r.buckets || []).some((b) => b.name === bucket), 'bucket not listed');
  });
  if (mode !== 'ip') {
    await step('signatureUrl', async () => {
      await client.put('node/signed.txt', Buffer.from('signed'));
      const url = client.signatureUrl('node/signed.txt', { expires: 300 });
      const r = await urllib.request(url, { method: 'GET', timeout: 60000 });
      assert.strictEqual(r.status, 200, `status ${r.status}: ${r.data}`);
      assert.strictEqual(Buffer.from(r.data).toString(), 'signed');
      await client.delete('node/signed.txt');
    });
  }
}

main()
  .catch((err) => steps.push({ name: 'main', ok: false, error: String(err && err.stack) }))
  .finally(() => {
    const ok = steps.every((s) => s.ok);
    process.stdout.write(JSON.stringify({ ok, mode, steps, requests }) + '\n');
    process.exitCode = ok ? 0 : 1;
  });
