"""PyTorch peer for tests/bench/bench_export.sh: float32 inference of the
same ResNet-20 (tests/bench/torch_resnet20.py's model, eval mode, no grad),
on random 1x28x28 inputs. Usage: torch_infer.py BATCH IMAGES THREADS.
Prints one JSON object."""
import json, sys, time
import torch
sys.path.insert(0, __file__.rsplit("/", 1)[0])
from torch_resnet20 import ResNet20

batch, images, threads = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(threads)
torch.manual_seed(0)
m = ResNet20().eval()
x = torch.randn(batch, 1, 28, 28)
with torch.no_grad():
    for _ in range(3):
        m(x)
    steps = max(1, images // batch)
    t0 = time.perf_counter()
    for _ in range(steps):
        m(x)
    t = time.perf_counter() - t0
print(json.dumps({"peer": "pytorch " + torch.__version__, "batch": batch, "threads": threads,
                  "images_per_s": batch * steps / t}))
