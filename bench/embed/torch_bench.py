#!/usr/bin/python3
"""bench/embed: the same BERT (a model directory as for EMBEDDING_PROVIDER=model) run by PyTorch.
usage: torch_bench.py MODEL_DIR TEXTS.tsv SECS BATCH   (torch.set_num_threads(2))
Texts are tokenised once beforehand with the reference tokenizer of
tests/unit/embed/model/gen_tiny_bert.py (tokenisation is not timed: this favours PyTorch); a batch
is padded to its longest text with an attention mask, mean or CLS pooling, L2 normalisation."""
import json
import math
import os
import resource
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests",
                                "unit", "embed", "model"))
import gen_tiny_bert  # noqa: E402


def rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024


def load_st(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        hdr = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in hdr.items():
        if k == "__metadata__":
            continue
        b, e = v["data_offsets"]
        out[k.removeprefix("bert.")] = torch.from_numpy(
            np.frombuffer(data[b:e], dtype="<f4").reshape(v["shape"]).copy())
    return out


def main():
    d, tsv, secs, batch = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
    torch.set_num_threads(2)
    cfg = json.load(open(os.path.join(d, "config.json")))
    tok = json.load(open(os.path.join(d, "tokenizer.json")))
    vocab = tok["model"]["vocab"]
    texts = []
    for line in open(tsv, encoding="utf-8"):
        if line.startswith("#") or not line.strip():
            continue
        texts += [t for t in line.rstrip("\n").split("\t") if t]
    cls = False
    pp = os.path.join(d, "1_Pooling", "config.json")
    if os.path.exists(pp):
        cls = json.load(open(pp)).get("pooling_mode_cls_token", False)
    r0 = rss_mib()
    t0 = time.time()
    w = load_st(os.path.join(d, "model.safetensors"))
    load = time.time() - t0
    H, nh, eps = cfg["hidden_size"], cfg["num_attention_heads"], cfg["layer_norm_eps"]
    dh = H // nh
    mt = min(512, cfg["max_position_embeddings"])
    ids_all = [gen_tiny_bert.tokenize(t, vocab, mt) for t in texts]

    def lin(x, n):
        return F.linear(x, w[n + ".weight"], w[n + ".bias"])

    def ln(x, n):
        return F.layer_norm(x, (H,), w[n + ".weight"], w[n + ".bias"], eps)

    @torch.inference_mode()
    def embed(seqs):
        B, L = len(seqs), max(len(s) for s in seqs)
        ids = torch.zeros((B, L), dtype=torch.long)
        mask = torch.zeros((B, L))
        for i, s in enumerate(seqs):
            ids[i, :len(s)] = torch.tensor(s)
            mask[i, :len(s)] = 1
        x = w["embeddings.word_embeddings.weight"][ids] + w[
            "embeddings.position_embeddings.weight"][:L] + w[
            "embeddings.token_type_embeddings.weight"][0]
        x = ln(x, "embeddings.LayerNorm")
        bias = (1 - mask)[:, None, None, :] * -1e9
        for l in range(cfg["num_hidden_layers"]):
            p = "encoder.layer.%d." % l
            q, k, v = (lin(x, p + "attention.self." + n).view(B, L, nh, dh).transpose(1, 2)
                       for n in ("query", "key", "value"))
            s = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dh) + bias, -1)
            ctx = (s @ v).transpose(1, 2).reshape(B, L, H)
            x = ln(x + lin(ctx, p + "attention.output.dense"), p + "attention.output.LayerNorm")
            x = ln(x + lin(F.gelu(lin(x, p + "intermediate.dense")), p + "output.dense"),
                   p + "output.LayerNorm")
        v = x[:, 0] if cls else (x * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
        return F.normalize(v, dim=-1)

    embed(ids_all[:batch])
    r1 = rss_mib()
    lat, done, pos = [], 0, 0
    start = end = time.time()
    while end - start < secs:
        if pos + batch > len(ids_all):
            pos = 0
        a = time.time()
        embed(ids_all[pos:pos + batch])
        end = time.time()
        lat.append((end - a) / batch)
        done += batch
        pos += batch
    lat.sort()
    print("pytorch     batch=%-3d texts=%6d texts/s=%8.1f p50=%8.2fms p99=%8.2fms load=%.2fs "
          "rss+model=%dMiB torch=%s" % (batch, done, done / (end - start), lat[len(lat) // 2] * 1e3,
                                       lat[int(len(lat) * 0.99)] * 1e3, load, r1 - r0,
                                       torch.__version__))


if __name__ == "__main__":
    main()
