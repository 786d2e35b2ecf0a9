"""Trains a small CNN on Fashion-MNIST in PyTorch (a model "trained elsewhere")
and exports it twice: eval mode (BN folded into the convs, as most exports
are) and training mode (BN kept). tests/test_onnx.c checks that datafree's
accuracy on the test set equals ONNX Runtime's for it.
Run with Debian's python3-torch (about a minute on 2 cores):
  python3 tests/vectors/make_fmnist_onnx.py [/usr/share/datasets/fashion-mnist]"""
import copy, gzip, os, struct, sys, warnings
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
warnings.filterwarnings("ignore")
here = os.path.dirname(os.path.abspath(__file__))
data = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/datasets/fashion-mnist"

def idx(name):
    for n in (name, name + ".gz"):
        p = os.path.join(data, n)
        if os.path.exists(p):
            b = (gzip.open if n.endswith(".gz") else open)(p, "rb").read()
            nd = b[3]; dims = struct.unpack(">" + "I" * nd, b[4:4 + 4 * nd])
            return np.frombuffer(b, np.uint8, offset=4 + 4 * nd).reshape(dims)
    raise SystemExit("missing " + name)

torch.manual_seed(5); torch.set_num_threads(2)
x = torch.tensor(idx("train-images-idx3-ubyte"), dtype=torch.float32).unsqueeze(1) / 255
y = torch.tensor(idx("train-labels-idx1-ubyte"), dtype=torch.long)
x = (x - 0.2860) / 0.3530
m = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
                  nn.Conv2d(16, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
                  nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                  nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))
opt = torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9)
m.train()
for i in range(0, 60000, 128):  # one epoch
    opt.zero_grad(); F.cross_entropy(m(x[i:i + 128]), y[i:i + 128]).backward(); opt.step()
m.eval()
d = torch.zeros(1, 1, 28, 28)
torch.onnx.export(m, d, os.path.join(here, "onnx", "fmnist_cnn.onnx"), opset_version=13,
                  input_names=["input"], output_names=["logits"], dynamic_axes={"input": {0: "N"}})
c = copy.deepcopy(m)
for b in c.modules():  # keep the statistics through the train-mode trace
    if isinstance(b, nn.BatchNorm2d): b.momentum = 0.0
torch.onnx.export(c, d, os.path.join(here, "onnx", "fmnist_cnn_bn.onnx"), opset_version=13,
                  training=torch.onnx.TrainingMode.TRAINING, do_constant_folding=False,
                  input_names=["input"], output_names=["logits"], dynamic_axes={"input": {0: "N"}})
xt = (torch.tensor(idx("t10k-images-idx3-ubyte"), dtype=torch.float32).unsqueeze(1) / 255 - 0.2860) / 0.3530
yt = torch.tensor(idx("t10k-labels-idx1-ubyte"), dtype=torch.long)
with torch.no_grad():
    acc = (m(xt).argmax(1) == yt).float().mean().item()
print("PyTorch test accuracy", acc)
