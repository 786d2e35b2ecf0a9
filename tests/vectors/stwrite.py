"""A minimal safetensors writer (F32 only, temp + rename), so the vector
scripts need nothing but torch."""
import json, os, struct

def write(path, tensors, made_by, torch_version):
    header = {"__metadata__": {"made_by": made_by, "torch": torch_version}}
    blobs, off = [], 0
    for k in sorted(tensors):
        b = tensors[k].numpy().astype("<f4").tobytes()
        header[k] = {"dtype": "F32", "shape": list(tensors[k].shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b); off += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(h))); f.write(h)
        for b in blobs: f.write(b)
    os.replace(path + ".tmp", path)
