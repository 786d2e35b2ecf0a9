// ONNX Runtime on a QDQ export against datafree's integer interpreter, on
// the Fashion-MNIST test set. Usage:
//   node tests/ort/eval_qdq.js MODEL.onnx FMNIST_DIR MEAN STD INT_LOGITS [LIMIT]
// INT_LOGITS: `datafree eval --integer --logits FILE` (int32, n x classes).
// Prints {"accuracy": ..., "agreement": ..., "n": ...}: top-1 accuracy of
// ONNX Runtime (default session options) and its top-1 agreement with the
// interpreter. Needs `npm install --ignore-scripts onnxruntime-node` here.
const fs = require('fs'), path = require('path'), zlib = require('zlib');
const ort = require(path.join(__dirname, 'node_modules', 'onnxruntime-node'));

function idx(dir, base) {
  for (const name of [base, base + '.gz']) {
    const p = path.join(dir, name);
    if (fs.existsSync(p)) { const b = fs.readFileSync(p); return name.endsWith('.gz') ? zlib.gunzipSync(b) : b; }
  }
  throw new Error('missing ' + base + ' in ' + dir);
}

(async () => {
  const [model, dir, meanS, stdS, logitsPath, limitS] = process.argv.slice(2);
  const mean = parseFloat(meanS), std = parseFloat(stdS);
  const im = idx(dir, 't10k-images-idx3-ubyte'), lb = idx(dir, 't10k-labels-idx1-ubyte');
  const h = im.readUInt32BE(8), w = im.readUInt32BE(12);
  let n = im.readUInt32BE(4);
  if (limitS) n = Math.min(n, parseInt(limitS));
  const li = new Int32Array(fs.readFileSync(logitsPath).buffer.slice(0));
  const s = await ort.InferenceSession.create(model);
  const inName = s.inputNames[0], outName = s.outputNames[0];
  let correct = 0, agree = 0;
  const B = 500;
  for (let off = 0; off < n; off += B) {
    const m = Math.min(B, n - off), x = new Float32Array(m * h * w);
    for (let i = 0; i < m * h * w; i++) x[i] = (im[16 + off * h * w + i] / 255 - mean) / std;
    const r = await s.run({[inName]: new ort.Tensor('float32', x, [m, 1, h, w])});
    const y = r[outName].data, kk = r[outName].dims[1];
    if (li.length < n * kk) throw new Error('the integer logits file holds fewer than ' + n + ' images');
    for (let i = 0; i < m; i++) {
      let b = 0, bi = 0;
      for (let j = 1; j < kk; j++) {
        if (y[i * kk + j] > y[i * kk + b]) b = j;
        if (li[(off + i) * kk + j] > li[(off + i) * kk + bi]) bi = j;
      }
      if (b === lb[8 + off + i]) correct++;
      if (b === bi) agree++;
    }
  }
  console.log(JSON.stringify({accuracy: correct / n, agreement: agree / n, n}));
})().catch(e => { console.error('ort: ' + e.message); process.exit(1); });
