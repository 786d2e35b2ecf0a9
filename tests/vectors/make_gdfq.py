"""Writes tests/vectors/gdfq_step.safetensors: one GDFQ step in PyTorch, for
tests/test_dfq.c. A tiny teacher (conv-BN-ReLU x2, GAP, linear) on 1x8x8
inputs, GDFQ's generator (width 8, latent 6, 3 classes) and a w4a4 student
quantized as the GDFQ code does (asymmetric, per-channel weights recomputed
from min/max at every forward, activations after every ReLU with a range from
the EMA of batch min/max, plain STE). Records:
  generator loss  L_G = CE(T(G(z|y)), y) + 0.1 * BNS, its parts, and dL_G/dW
  student loss    L_S = CE(S(x), y) + alpha*T^2*KLDiv(legacy mean), dL_S/dW
Run with Debian's python3-torch:  python3 tests/vectors/make_gdfq.py"""
import os, sys
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(7)
T = {}
def put(name, t): T[name] = t.detach().contiguous().float()

K, LAT, WID, TEMP, ALPHA, BETA = 3, 6, 8, 20.0, 1.0, 0.1

class Teacher(nn.Module):
    def __init__(s):
        super().__init__()
        s.c1 = nn.Conv2d(1, 4, 3, 1, 1, bias=False); s.b1 = nn.BatchNorm2d(4)
        s.c2 = nn.Conv2d(4, 4, 3, 2, 1, bias=False); s.b2 = nn.BatchNorm2d(4)
        s.fc = nn.Linear(4, K)
    def forward(s, x, q=None):
        a = F.relu(s.b1(F.conv2d(x, wq(s.c1.weight) if q else s.c1.weight, None, 1, 1)))
        if q: a = q(a, 0)
        a = F.relu(s.b2(F.conv2d(a, wq(s.c2.weight) if q else s.c2.weight, None, 2, 1)))
        if q: a = q(a, 1)
        a = a.mean((2, 3))
        return F.linear(a, wq(s.fc.weight) if q else s.fc.weight, s.fc.bias)

class Gen(nn.Module):  # GDFQ's generator, as in its official code
    def __init__(s):
        super().__init__()
        s.label_emb = nn.Embedding(K, LAT)
        s.l1 = nn.Linear(LAT, WID * 2 * 2)
        s.bn0 = nn.BatchNorm2d(WID)
        s.conv1 = nn.Conv2d(WID, WID, 3, 1, 1); s.bn1 = nn.BatchNorm2d(WID, 0.8)
        s.conv2 = nn.Conv2d(WID, WID // 2, 3, 1, 1); s.bn2 = nn.BatchNorm2d(WID // 2, 0.8)
        s.conv3 = nn.Conv2d(WID // 2, 1, 3, 1, 1); s.bn_out = nn.BatchNorm2d(1, affine=False)
    def forward(s, z, y):
        x = torch.mul(s.label_emb(y), z)
        x = s.bn0(s.l1(x).view(z.shape[0], WID, 2, 2))
        x = F.interpolate(x, scale_factor=2)
        x = F.leaky_relu(s.bn1(s.conv1(x)), 0.2)
        x = F.interpolate(x, scale_factor=2)
        x = F.leaky_relu(s.bn2(s.conv2(x)), 0.2)
        return s.bn_out(torch.tanh(s.conv3(x)))

def qv(x, lo, hi, bits=4):  # ZeroQ/GDFQ asymmetric, signed
    s = (2 ** bits - 1) / torch.clamp(hi - lo, min=1e-8)
    z = torch.round(s * lo) + 2 ** (bits - 1)
    q = torch.clamp(torch.round(s * x - z), -2 ** (bits - 1), 2 ** (bits - 1) - 1)
    return (q + z) / s

def wq(w):  # per output channel, STE
    f = w.reshape(w.shape[0], -1)
    lo, hi = f.min(1)[0], f.max(1)[0]
    shp = (-1,) + (1,) * (w.dim() - 1)
    return w + (qv(w, lo.view(shp), hi.view(shp)) - w).detach()

teacher, gen = Teacher(), Gen()
with torch.no_grad():  # a teacher with non-trivial BN statistics
    for b in (teacher.b1, teacher.b2):
        b.running_mean.copy_(torch.randn(4) * 0.3); b.running_var.copy_(torch.rand(4) + 0.5)
        b.weight.copy_(torch.rand(4) + 0.5); b.bias.copy_(torch.randn(4) * 0.1)
teacher.eval(); gen.train()
for n, p in teacher.state_dict().items():
    if "num_batches" not in n: put("t." + n, p)
for n, p in gen.state_dict().items():
    if "num_batches" not in n: put("g." + n, p)

z = torch.randn(5, LAT); y = torch.tensor([0, 2, 1, 1, 0])
put("z", z); put("labels", y.float())

# ---- generator step: BN hooks on the teacher, L_G ----
stats = []
hooks = [m.register_forward_hook(lambda m, i, o: stats.append((i[0].mean((0, 2, 3)),
          i[0].var((0, 2, 3), unbiased=False), m.running_mean, m.running_var)))
         for m in (teacher.b1, teacher.b2)]
x = gen(z, y)
t_logits = teacher(x)
for h in hooks: h.remove()
bns = sum(F.mse_loss(m, rm) + F.mse_loss(v, rv) for m, v, rm, rv in stats) / len(stats)
ce = F.cross_entropy(t_logits, y)
loss_g = ce + BETA * bns
loss_g.backward()
put("x", x); put("t_logits", t_logits)
put("loss_g", loss_g.view(1)); put("ce_g", ce.view(1)); put("bns", bns.view(1))
for n in ("conv1.weight", "l1.weight", "label_emb.weight", "bn1.weight"):
    put("dg." + n, dict(gen.named_parameters())[n].grad)

# ---- student step: w4a4 fake-quantized teacher, ranges from one EMA update ----
xs = x.detach()
student = Teacher(); student.load_state_dict(teacher.state_dict()); student.eval()
ranges = {}
def aq(a, i):  # first EMA update with bias correction = the batch min/max
    lo, hi = a.min().detach(), a.max().detach()
    ranges[i] = (lo, hi)
    return a + (qv(a, lo, hi) - a).detach()
s_logits = student(xs, aq)
tl = t_logits.detach()
kd = nn.KLDivLoss()(F.log_softmax(s_logits / TEMP, 1), F.softmax(tl / TEMP, 1)) * ALPHA * TEMP * TEMP
loss_s = F.cross_entropy(s_logits, y) + kd
loss_s.backward()
put("s_logits", s_logits); put("loss_s", loss_s.view(1))
for i in ranges: put(f"range{i}", torch.stack(ranges[i]))
for n in ("c1.weight", "c2.weight", "fc.weight", "b1.weight"):
    put("ds." + n, dict(student.named_parameters())[n].grad)

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
import stwrite
stwrite.write(os.path.join(here, "gdfq_step.safetensors"), T, "tests/vectors/make_gdfq.py", torch.__version__)
print("wrote", len(T), "tensors; loss_g", loss_g.item(), "loss_s", loss_s.item())
