#!/usr/bin/python3
"""Writes small random BERT encoders in the Hugging Face file formats (model.safetensors,
tokenizer.json, config.json, optional 1_Pooling/config.json) and reference sentence embeddings
computed here with numpy (an independent tokenizer and forward pass), for tests/unit/embed/
test_model.c and bench/embed. Needs python3 and numpy only.

    gen_tiny_bert.py OUTDIR            test models OUTDIR/{mean,cls} + OUTDIR/reference.json
    gen_tiny_bert.py --minilm OUTDIR   random model with all-MiniLM-L6-v2's shapes (no reference)
"""
import json
import math
import os
import struct
import sys
import unicodedata

import numpy as np

WORDS = ("the a an of to and in is it for on with as be this that are was hello world "
         "forge memory search server crash sick car vehicle fire blaze pay travel cafe resume "
         "naive run jump play un believ know data base").split()
PIECES = "##ning ##ing ##s ##ed ##able ##er ##ly ##e ##a ##b ##c".split()
PUNCT = list(".,!?;:'\"()-")
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def build_vocab(big=False):
    toks = SPECIAL + PUNCT + WORDS + PIECES + list("abcdefghijklmnopqrstuvwxyz")
    toks += ["##" + c for c in "abcdefghijklmnopqrstuvwxyz"] + ["日", "本"]
    if big:  # pad to MiniLM's vocab size with synthetic pieces
        i = 0
        while len(toks) < 30522:
            toks.append("w%d" % i if i % 2 else "##p%d" % i)
            i += 1
    seen, out = set(), []
    for t in toks:
        if t not in seen:
            seen.add(t)
            out.append(t)
    return out


# ---- reference tokenizer (HF BertNormalizer + BertPreTokenizer + WordPiece) -------------------
def is_punct(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def is_cjk(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF or
            0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF or
            0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def tokenize(text, vocab, max_tokens, max_chars=100):
    out = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or (ch not in "\t\n\r" and unicodedata.category(ch)[0] == "C"):
            continue
        if ch in " \t\n\r" or unicodedata.category(ch) == "Zs":
            out.append(" ")
        elif is_cjk(cp):
            out.append(" " + ch + " ")
        else:
            out.append(ch)
    text = unicodedata.normalize("NFD", "".join(out))
    text = "".join(c for c in text if unicodedata.category(c) != "Mn").lower()
    words, cur = [], ""
    for ch in text:
        if ch in " \t\n\r" or unicodedata.category(ch) == "Zs":
            if cur:
                words.append(cur)
            cur = ""
        elif is_punct(ch):
            if cur:
                words.append(cur)
            words.append(ch)
            cur = ""
        else:
            cur += ch
    if cur:
        words.append(cur)
    ids = [vocab["[CLS]"]]
    for w in words:
        if len(w) > max_chars:
            pieces = [vocab["[UNK]"]]
        else:
            pieces, start = [], 0
            while start < len(w):
                end, found = len(w), None
                while end > start:
                    sub = ("##" if start else "") + w[start:end]
                    if sub in vocab:
                        found = vocab[sub]
                        break
                    end -= 1
                if found is None:
                    pieces = [vocab["[UNK]"]]
                    break
                pieces.append(found)
                start = end
        ids += pieces
    ids = ids[:max_tokens - 1]
    return ids + [vocab["[SEP]"]]


# ---- model ------------------------------------------------------------------------------------
def make_weights(rng, cfg, prefix):
    H, NI, V, P = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"], cfg[
        "max_position_embeddings"]
    w = {}

    def r(name, *shape, scale=0.08):
        w[prefix + name] = (rng.standard_normal(shape) * scale).astype(np.float32)

    def ln(name):
        w[prefix + name + ".weight"] = (1 + rng.standard_normal(H) * 0.1).astype(np.float32)
        w[prefix + name + ".bias"] = (rng.standard_normal(H) * 0.05).astype(np.float32)

    r("embeddings.word_embeddings.weight", V, H, scale=0.5)
    r("embeddings.position_embeddings.weight", P, H, scale=0.2)
    r("embeddings.token_type_embeddings.weight", cfg["type_vocab_size"], H, scale=0.2)
    ln("embeddings.LayerNorm")
    for l in range(cfg["num_hidden_layers"]):
        p = "encoder.layer.%d." % l
        for n in ("query", "key", "value"):
            r(p + "attention.self.%s.weight" % n, H, H, scale=0.3)
            r(p + "attention.self.%s.bias" % n, H)
        r(p + "attention.output.dense.weight", H, H, scale=0.15)
        r(p + "attention.output.dense.bias", H)
        ln(p + "attention.output.LayerNorm")
        r(p + "intermediate.dense.weight", NI, H, scale=0.15)
        r(p + "intermediate.dense.bias", NI)
        r(p + "output.dense.weight", H, NI, scale=0.1)
        r(p + "output.dense.bias", H)
        ln(p + "output.LayerNorm")
    w[prefix + "pooler.dense.weight"] = np.zeros((H, H), np.float32)  # unused, as in HF files
    return w


def write_safetensors(path, tensors):
    header, off, blobs = {"__metadata__": {"format": "pt"}}, 0, []
    for name, a in tensors.items():
        b = np.ascontiguousarray(a, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def forward(w, cfg, prefix, ids, cls_pooling):
    H, nh = cfg["hidden_size"], cfg["num_attention_heads"]
    dh, eps = H // nh, cfg["layer_norm_eps"]
    g = lambda n: w[prefix + n].astype(np.float64)

    def ln(x, n):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + eps) * g(n + ".weight") + g(n + ".bias")

    lin = lambda x, n: x @ g(n + ".weight").T + g(n + ".bias")
    L = len(ids)
    x = g("embeddings.word_embeddings.weight")[ids] + g("embeddings.position_embeddings.weight")[
        :L] + g("embeddings.token_type_embeddings.weight")[0]
    x = ln(x, "embeddings.LayerNorm")
    erf = np.vectorize(math.erf)
    for l in range(cfg["num_hidden_layers"]):
        p = "encoder.layer.%d." % l
        q, k, v = (lin(x, p + "attention.self." + n).reshape(L, nh, dh).transpose(1, 0, 2)
                   for n in ("query", "key", "value"))
        s = q @ k.transpose(0, 2, 1) / math.sqrt(dh)
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        ctx = (s @ v).transpose(1, 0, 2).reshape(L, H)
        x = ln(x + lin(ctx, p + "attention.output.dense"), p + "attention.output.LayerNorm")
        h = lin(x, p + "intermediate.dense")
        h = 0.5 * h * (1 + erf(h / math.sqrt(2)))
        x = ln(x + lin(h, p + "output.dense"), p + "output.LayerNorm")
    v = x[0] if cls_pooling else x.mean(0)
    return v / np.linalg.norm(v)


def write_model(d, cfg, vocab_list, prefix, pooling, seed):
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(seed)
    w = make_weights(rng, cfg, prefix)
    write_safetensors(os.path.join(d, "model.safetensors"), w)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    tok = {"version": "1.0", "truncation": None, "padding": None,
           "normalizer": {"type": "BertNormalizer", "clean_text": True,
                          "handle_chinese_chars": True, "strip_accents": None, "lowercase": True},
           "pre_tokenizer": {"type": "BertPreTokenizer"},
           "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                     "max_input_chars_per_word": 100,
                     "vocab": {t: i for i, t in enumerate(vocab_list)}}}
    with open(os.path.join(d, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False)
    if pooling:
        os.makedirs(os.path.join(d, "1_Pooling"), exist_ok=True)
        with open(os.path.join(d, "1_Pooling", "config.json"), "w") as f:
            json.dump({"word_embedding_dimension": cfg["hidden_size"],
                       "pooling_mode_cls_token": pooling == "cls",
                       "pooling_mode_mean_tokens": pooling == "mean"}, f)
    return w


def config(H, layers, heads, NI, V, P):
    return {"architectures": ["BertModel"], "model_type": "bert", "hidden_size": H,
            "num_hidden_layers": layers, "num_attention_heads": heads, "intermediate_size": NI,
            "hidden_act": "gelu", "vocab_size": V, "max_position_embeddings": P,
            "type_vocab_size": 2, "layer_norm_eps": 1e-12, "position_embedding_type": "absolute"}


TEXTS = ["hello world", "Héllo, WORLD! Forge's memory-search.", "running jumps played unknowable",
         "the server crashed; zzqx is sick", "naïve café résumé", "日本 data base",
         "a " * 40 + "vehicle", "x" * 150 + " fire", "blaze\tpay\n travel  \u00a0 car"]


def main():
    if sys.argv[1] == "--minilm":
        vocab = build_vocab(big=True)
        write_model(sys.argv[2], config(384, 6, 12, 1536, 30522, 512), vocab, "", "mean", 7)
        return
    out = sys.argv[1]
    vocab_list = build_vocab()
    vocab = {t: i for i, t in enumerate(vocab_list)}
    ref = {"cases": []}
    for name, prefix, pooling, P, seed in (("mean", "", None, 512, 1), ("cls", "bert.", "cls", 24, 2)):
        cfg = config(32, 2, 4, 64, len(vocab_list), P)
        d = os.path.join(out, name)
        w = write_model(d, cfg, vocab_list, prefix, pooling, seed)
        mt = min(512, P)
        case = {"dir": d, "texts": TEXTS, "ids": [], "vectors": []}
        for t in TEXTS:
            ids = tokenize(t, vocab, mt)
            case["ids"].append(ids)
            case["vectors"].append([float(x) for x in forward(w, cfg, prefix, ids, pooling == "cls")])
        ref["cases"].append(case)
    with open(os.path.join(out, "reference.json"), "w", encoding="utf-8") as f:
        json.dump(ref, f, ensure_ascii=False)


if __name__ == "__main__":
    main()
