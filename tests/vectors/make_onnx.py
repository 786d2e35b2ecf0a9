"""Writes ONNX files exported by PyTorch, with inputs and PyTorch's outputs,
for tests/test_onnx.c: tests/vectors/onnx/*.onnx and onnx_io.safetensors.
Networks: the CIFAR-style ResNet-20 of tests/bench/torch_resnet20.py, a
MobileNetV2-style net (depthwise convs, ReLU6, linear bottlenecks, residual
adds) and a DenseNet-style net (BN-ReLU-conv, concatenation, average-pool
transitions), each in opsets 11 and 17; plus a small net with the patterns
PyTorch emits for x.view(x.size(0), -1), max pooling, Clip and nearest
upsampling. BN layers get random statistics; export keeps BN
(TrainingMode.TRAINING: an eval-mode export folds BN into the convs).
Run with Debian's python3-torch and python3-onnx:  python3 tests/vectors/make_onnx.py"""
import copy, os, sys, warnings
import torch
import torch.nn as nn
import torch.nn.functional as F

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here); sys.path.insert(0, os.path.join(here, "..", "bench"))
import stwrite
from torch_resnet20 import ResNet20
warnings.filterwarnings("ignore")
torch.manual_seed(11)

class InvRes(nn.Module):
    def __init__(s, cin, cout, stride, t):
        super().__init__()
        h = cin * t
        s.body = nn.Sequential(nn.Conv2d(cin, h, 1, bias=False), nn.BatchNorm2d(h), nn.ReLU6(),
                               nn.Conv2d(h, h, 3, stride, 1, groups=h, bias=False), nn.BatchNorm2d(h), nn.ReLU6(),
                               nn.Conv2d(h, cout, 1, bias=False), nn.BatchNorm2d(cout))
        s.res = stride == 1 and cin == cout
    def forward(s, x): return x + s.body(x) if s.res else s.body(x)

class MobileNetish(nn.Module):
    def __init__(s):
        super().__init__()
        s.stem = nn.Sequential(nn.Conv2d(1, 8, 3, 1, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU6())
        s.blocks = nn.Sequential(InvRes(8, 8, 1, 1), InvRes(8, 12, 2, 4), InvRes(12, 12, 1, 4), InvRes(12, 16, 2, 4))
        s.head = nn.Sequential(nn.Conv2d(16, 32, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU6())
        s.fc = nn.Linear(32, 10)
    def forward(s, x): return s.fc(F.adaptive_avg_pool2d(s.head(s.blocks(s.stem(x))), 1).flatten(1))

class Dense(nn.Module):
    def __init__(s, cin, g):
        super().__init__()
        s.bn, s.conv = nn.BatchNorm2d(cin), nn.Conv2d(cin, g, 3, 1, 1, bias=False)
    def forward(s, x): return torch.cat([x, s.conv(F.relu(s.bn(x)))], 1)

class DenseNetish(nn.Module):
    def __init__(s):
        super().__init__()
        s.stem = nn.Conv2d(1, 8, 3, 1, 1, bias=False)
        s.b1 = nn.Sequential(Dense(8, 4), Dense(12, 4))
        s.t1 = nn.Sequential(nn.BatchNorm2d(16), nn.ReLU(), nn.Conv2d(16, 8, 1, bias=False), nn.AvgPool2d(2))
        s.b2 = nn.Sequential(Dense(8, 4), Dense(12, 4))
        s.bn = nn.BatchNorm2d(16); s.fc = nn.Linear(16, 10)
    def forward(s, x):
        x = s.b2(s.t1(s.b1(s.stem(x))))
        return s.fc(F.adaptive_avg_pool2d(F.relu(s.bn(x)), 1).flatten(1))

class Patterns(nn.Module):  # view(x.size(0), -1), max pooling, clip, upsampling, bias convs
    def __init__(s):
        super().__init__()
        s.c1 = nn.Conv2d(1, 6, 3, 1, 1); s.bn = nn.BatchNorm2d(6)
        s.c2 = nn.Conv2d(6, 6, 3, 2, 1)
        s.fc = nn.Linear(6 * 7 * 7, 10)
        s.register_buffer("m", torch.randn(1, 6, 1, 1) * 0.1)
        s.register_buffer("sd", torch.rand(1, 6, 1, 1) + 0.5)
    def forward(s, x):
        x = (x - 0.1) / 0.7 * 1.3                                           # input normalisation in the model
        x = (s.bn(s.c1(x)) - s.m) / s.sd * 2.0 + 0.05                       # per-channel constants
        x = F.max_pool2d(torch.clamp(x, -0.5, 2.0), 2)                      # 14x14
        x = F.leaky_relu(s.c2(F.interpolate(x, scale_factor=2, mode="nearest")), 0.1)  # 14x14
        x = F.avg_pool2d(torch.sigmoid(F.hardswish(x) + F.hardsigmoid(x)), 2)  # 7x7
        return s.fc(x.view(x.size(0), -1))

T = {}
def put(name, t): T[name] = t.detach().contiguous().float()
x = torch.randn(3, 1, 28, 28)
put("input", x)
for name, m in (("resnet20", ResNet20()), ("mobilenet", MobileNetish()), ("densenet", DenseNetish()), ("patterns", Patterns())):
    with torch.no_grad():
        for b in m.modules():
            if isinstance(b, nn.BatchNorm2d):
                b.running_mean.copy_(torch.randn_like(b.running_mean) * 0.2)
                b.running_var.copy_(torch.rand_like(b.running_var) + 0.5)
                b.weight.copy_(torch.rand_like(b.weight) + 0.5); b.bias.copy_(torch.randn_like(b.bias) * 0.1)
    for op in (11, 17):
        # a TRAINING-mode export traces in train mode, which updates the BN
        # running statistics: export a copy, then take its eval-mode output
        c = copy.deepcopy(m)
        torch.onnx.export(c, x, os.path.join(here, "onnx", f"{name}_op{op}.onnx"), opset_version=op,
                          training=torch.onnx.TrainingMode.TRAINING, do_constant_folding=False,
                          input_names=["input"], output_names=["logits"], dynamic_axes={"input": {0: "N"}})
        c.eval()
        put(f"{name}_op{op}.output", c(x))
# an eval-mode export: BN folded into the convs (the importer must say so when BN statistics are needed)
torch.onnx.export(ResNet20().eval(), x, os.path.join(here, "onnx", "resnet20_folded.onnx"), opset_version=13,
                  input_names=["input"], output_names=["logits"])
# the same ResNet-20 with its initializers in an external data file beside it
import onnx
mo = onnx.load(os.path.join(here, "onnx", "resnet20_op17.onnx"))
os.makedirs(os.path.join(here, "onnx", "external"), exist_ok=True)
onnx.save_model(mo, os.path.join(here, "onnx", "external", "resnet20_ext.onnx"), save_as_external_data=True,
                all_tensors_to_one_file=True, location="resnet20_ext.data", size_threshold=0)
stwrite.write(os.path.join(here, "onnx_io.safetensors"), T, "tests/vectors/make_onnx.py", torch.__version__)
print("wrote", len(T), "tensors and", len(os.listdir(os.path.join(here, "onnx"))), "ONNX files")
