"""Writes tests/vectors/parity.safetensors: inputs, parameters and outputs
of PyTorch ops, for tests/test_parity.c (which needs no Python).
Run with Debian's python3-torch:  python3 tests/vectors/make_parity.py
The safetensors file is written by hand (the format is tiny), so only
torch is needed."""
import os, sys
import torch
import torch.nn.functional as F

torch.manual_seed(1234)
T = {}

def put(name, t):
    T[name] = t.detach().contiguous().float()

# conv2d: (name, N, C, H, W, OC, k, stride, pad, dil, groups, bias)
convs = [("conv_s1", 2, 3, 7, 6, 4, 3, 1, 1, 1, 1, True),
         ("conv_s2", 2, 4, 9, 9, 6, 3, 2, 1, 1, 1, False),
         ("conv_dil", 1, 3, 10, 10, 5, 3, 1, 2, 2, 1, True),
         ("conv_grp", 2, 4, 8, 8, 6, 3, 1, 1, 1, 2, False),
         ("conv_dw", 2, 6, 8, 8, 6, 3, 2, 1, 1, 6, True),
         ("conv_k5", 1, 2, 11, 9, 3, 5, 1, 2, 1, 1, False),
         ("conv_1x1", 2, 8, 5, 5, 4, 1, 1, 0, 1, 1, True),
         ("conv_k1s2", 2, 4, 7, 7, 8, 1, 2, 0, 1, 1, False),
         # 16-multiple channels, stride 1, same width: the direct kernel (fwd and dx)
         ("conv_d16", 2, 16, 7, 9, 32, 3, 1, 1, 1, 1, True),
         ("conv_d16dil", 1, 16, 10, 10, 16, 3, 1, 2, 2, 1, False),
         ("conv_d16k5", 1, 32, 6, 5, 16, 5, 1, 2, 1, 1, False),
         ("conv_d16tail", 3, 16, 5, 5, 16, 3, 1, 1, 1, 1, False),
         # K * OW large enough that dW's im2col runs one output row per chunk
         ("conv_chunk1", 1, 64, 5, 44, 4, 3, 1, 1, 1, 1, False)]
for name, N, C, H, W, OC, k, s, p, d, g, b in convs:
    x = torch.randn(N, C, H, W, requires_grad=True)
    w = torch.randn(OC, C // g, k, k, requires_grad=True)
    bias = torch.randn(OC, requires_grad=True) if b else None
    y = F.conv2d(x, w, bias, s, p, d, g)
    dy = torch.randn_like(y)
    y.backward(dy)
    put(name + ".x", x); put(name + ".w", w); put(name + ".y", y); put(name + ".dy", dy)
    put(name + ".dx", x.grad); put(name + ".dw", w.grad)
    if b: put(name + ".b", bias); put(name + ".db", bias.grad)
    put(name + ".attr", torch.tensor([s, p, d, g, int(b)]))

# batch norm, training (batch stats, running-stat update) and eval
x = torch.randn(4, 3, 5, 5) * 2 + 1
gamma, beta = torch.randn(3), torch.randn(3)
rm, rv = torch.randn(3) * 0.1, torch.rand(3) + 0.5
put("bn.x", x); put("bn.gamma", gamma); put("bn.beta", beta); put("bn.rm0", rm); put("bn.rv0", rv)
rm1, rv1 = rm.clone(), rv.clone()
y = F.batch_norm(x, rm1, rv1, gamma, beta, training=True, momentum=0.1, eps=1e-5)
put("bn.y_train", y); put("bn.rm1", rm1); put("bn.rv1", rv1)
y = F.batch_norm(x, rm, rv, gamma, beta, training=False, eps=1e-5)
put("bn.y_eval", y)

# pooling
x = torch.randn(2, 3, 9, 8)
put("pool.x", x)
put("pool.max_k3s2p1", F.max_pool2d(x, 3, 2, 1))
put("pool.max_k2s2p0", F.max_pool2d(x, 2, 2, 0))
put("pool.avg_k3s2p1_incl", F.avg_pool2d(x, 3, 2, 1, count_include_pad=True))
put("pool.avg_k3s2p1_excl", F.avg_pool2d(x, 3, 2, 1, count_include_pad=False))
put("pool.gap", F.adaptive_avg_pool2d(x, 1).flatten(1))

# upsampling x2
x = torch.randn(2, 3, 4, 5, requires_grad=True)
put("up.x", x)
put("up.nearest", F.interpolate(x, scale_factor=2, mode="nearest"))
yb = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
dy = torch.randn_like(yb)
yb.backward(dy)
put("up.bilinear", yb); put("up.bilinear_dy", dy); put("up.bilinear_dx", x.grad)

# softmax family and losses
z = torch.randn(5, 7) * 3
t = torch.randn(5, 7) * 3
labels = torch.tensor([0, 3, 6, 2, 2])
put("loss.z", z); put("loss.t", t); put("loss.labels", labels)
put("loss.softmax", F.softmax(z, 1)); put("loss.log_softmax", F.log_softmax(z, 1))
put("loss.ce", F.cross_entropy(z, labels).reshape(1))
put("loss.ce_ls", F.cross_entropy(z, labels, label_smoothing=0.1).reshape(1))
Tt = 4.0
put("loss.kl_T4", F.kl_div(F.log_softmax(z / Tt, 1), F.softmax(t / Tt, 1), reduction="batchmean").reshape(1))

# optimisers: 3 steps on fixed gradients, as torch.optim does them
p0 = torch.randn(10)
grads = [torch.randn(10) for _ in range(3)]
put("optim.p0", p0)
for i, g in enumerate(grads): put(f"optim.g{i}", g)
def run(name, make):
    p = p0.clone().requires_grad_(True)
    opt = make([p])
    for g in grads:
        opt.zero_grad(); p.grad = g.clone(); opt.step()
    put("optim." + name, p)
run("sgd", lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=5e-4))
run("sgd_nesterov", lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-2))
run("adam", lambda ps: torch.optim.Adam(ps, lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2))
run("adamw", lambda ps: torch.optim.AdamW(ps, lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2))

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
import stwrite
stwrite.write(os.path.join(here, "parity.safetensors"), T, "tests/vectors/make_parity.py", torch.__version__)
print("wrote", len(T), "tensors")
