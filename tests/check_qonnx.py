"""Checks a QONNX export against the QDQ export of the same model (both
written by `datafree export --target onnx-qdq,qonnx`): onnx.checker accepts
it, it has one Quant node per quantized weight and activation, and every
weight its Quant node produces (scale, zeropt, bitwidth, rounding half to
even) equals the QDQ export's dequantized int8 codes.
Usage: check_qonnx.py QONNX.onnx QDQ.onnx   (prints one JSON object)."""
import json, sys
import numpy as np
import onnx
from onnx import numpy_helper

qo, qd = onnx.load(sys.argv[1]), onnx.load(sys.argv[2])
onnx.checker.check_model(qo)
init = lambda m: {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
io, idq = init(qo), init(qd)
quant = [n for n in qo.graph.node if n.op_type == "Quant"]
assert all(n.domain == "qonnx.custom_op.general" for n in quant)
fq = [n for n in qd.graph.node if n.op_type == "QuantizeLinear"]
checked = 0
for n in quant:
    if not n.output[0].endswith(".weight_quant"):
        continue
    x, s, z, b = (io[i] for i in n.input)
    a = {at.name: onnx.helper.get_attribute_value(at) for at in n.attribute}
    lo, hi = (-(2 ** (b - 1)), 2 ** (b - 1) - 1) if a["signed"] else (0, 2 ** b - 1)
    q = np.clip(np.round(x / s + z), lo, hi)  # numpy rounds half to even, as ROUND
    w = (q - z) * s
    node = n.output[0][: -len(".weight_quant")]
    wq, ws, wz = idq[node + ".weight_q"], idq[node + ".weight_scale"], idq[node + ".weight_zero_point"]
    sh = (-1,) + (1,) * (wq.ndim - 1)
    wd = (wq.astype(np.float32) - wz.reshape(sh).astype(np.float32)) * ws.reshape(sh)
    assert np.allclose(w, wd, rtol=1e-5, atol=1e-7), node
    checked += 1
print(json.dumps({"quant_nodes": len(quant), "weights_checked": checked, "activation_quantizers_qdq": len(fq)}))
