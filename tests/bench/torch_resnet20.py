"""PyTorch peer for tests/bench/bench_train.sh: the same CIFAR-style
ResNet-20 (3x3 stem, basic blocks, 1x1 conv + BN shortcuts) timed the same
way as `datafree bench`: random inputs, SGD momentum step, 2 threads.
Prints one JSON object."""
import json, resource, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(int(sys.argv[4]) if len(sys.argv) > 4 else 2)

class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.a = nn.Conv2d(cin, cout, 3, stride, 1, bias=False); self.abn = nn.BatchNorm2d(cout)
        self.b = nn.Conv2d(cout, cout, 3, 1, 1, bias=False); self.bbn = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
    def forward(self, x):
        y = F.relu(self.abn(self.a(x)))
        y = self.bbn(self.b(y))
        return F.relu(y + (self.down(x) if self.down is not None else x))

class ResNet20(nn.Module):
    def __init__(self, cin=1, classes=10):
        super().__init__()
        self.stem = nn.Conv2d(cin, 16, 3, 1, 1, bias=False); self.bn = nn.BatchNorm2d(16)
        layers, c = [], 16
        for s, oc in enumerate([16, 32, 64]):
            for i in range(3):
                layers.append(Block(c, oc, 2 if s > 0 and i == 0 else 1)); c = oc
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(64, classes)
    def forward(self, x):
        x = F.relu(self.bn(self.stem(x)))
        x = self.layers(x)
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))

def main():
    batch = int(sys.argv[1]) if len(sys.argv) > 1 else 128
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    warm = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    torch.manual_seed(0)
    m = ResNet20()
    opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    x = torch.randn(batch, 1, 28, 28); y = torch.randint(0, 10, (batch,))
    m.train()
    for i in range(warm + steps):
        if i == warm: t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(m(x), y)
        loss.backward(); opt.step()
    t_train = time.perf_counter() - t0
    rss_train = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    m.eval()
    with torch.no_grad():
        for i in range(warm + steps):
            if i == warm: t0 = time.perf_counter()
            m(x)
    t_inf = time.perf_counter() - t0
    print(json.dumps({"peer": "pytorch " + torch.__version__, "threads": torch.get_num_threads(),
                      "train_images_per_s": batch * steps / t_train, "infer_images_per_s": batch * steps / t_inf,
                      "peak_rss_mib": rss_train}))

if __name__ == "__main__":
    main()
