// ONNX Runtime's accuracy for an ONNX classifier on the Fashion-MNIST test set,
// as the peer for tests/test_onnx.c. Usage:
//   node tests/ort/eval_fmnist.js MODEL.onnx FMNIST_DIR MEAN STD
// Needs `npm install --ignore-scripts onnxruntime-node` in tests/ort/.
// Prints {"accuracy": a, "n": n, "predictions_sha": ...}.
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
  const [model, dir, meanS, stdS] = process.argv.slice(2);
  const mean = parseFloat(meanS), std = parseFloat(stdS);
  const im = idx(dir, 't10k-images-idx3-ubyte'), lb = idx(dir, 't10k-labels-idx1-ubyte');
  const n = im.readUInt32BE(4), h = im.readUInt32BE(8), w = im.readUInt32BE(12);
  const s = await ort.InferenceSession.create(model);
  const inName = s.inputNames[0], outName = s.outputNames[0];
  let correct = 0; const preds = [];
  const B = 500;
  for (let off = 0; off < n; off += B) {
    const m = Math.min(B, n - off), x = new Float32Array(m * h * w);
    for (let i = 0; i < m * h * w; i++) x[i] = (im[16 + off * h * w + i] / 255 - mean) / std;
    const r = await s.run({[inName]: new ort.Tensor('float32', x, [m, 1, h, w])});
    const y = r[outName].data, k = r[outName].dims[1];
    for (let i = 0; i < m; i++) {
      let b = 0;
      for (let j = 1; j < k; j++) if (y[i * k + j] > y[i * k + b]) b = j;
      preds.push(b); if (b === lb[8 + off + i]) correct++;
    }
  }
  console.log(JSON.stringify({accuracy: correct / n, n, correct}));
})().catch(e => { console.error('ort: ' + e.message); process.exit(1); });
