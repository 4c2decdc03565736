"""Train dsv4-mini (model.py) on the tokenized corpus; checkpoint, resume, loss curve.

    nice -n 10 /usr/bin/python3 tools/train/train.py --data WORK --run WORK/run --minutes 75

WORK holds train.json / held.json ({"ids": [...]} from `dsv4 tokenize --json`, see
build_mini.sh).  Batches are random windows of seq+1 tokens of the packed corpus (documents
are BOS..EOS delimited).  Loss = next-token CE + mtp_weight * next-next-token CE (MTP head)
+ indexer KL (trains only the indexer, see model.py).  AdamW, linear warm-up then cosine decay;
the schedule runs on progress = max(step / steps, elapsed / budget), so the run ends on time
on a shared machine.  Quantisation-aware training (model.qat) for the last --qat-frac of it.
Writes RUN/log.csv (one row per step; heldout loss every --eval-every steps), RUN/ckpt.pt
(every --ckpt-minutes and at the end; --resume continues from it, schedule included).
"""
import argparse
import csv
import fcntl
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from mini_config import MINI  # noqa: E402
from model import DSV4Train  # noqa: E402


def load_ids(path):
    cache = path + ".npy"
    if os.path.exists(cache) and os.path.getmtime(cache) >= os.path.getmtime(path):
        return np.load(cache)
    ids = np.asarray(json.load(open(path))["ids"], dtype=np.int32)
    np.save(cache, ids)
    return ids


def doc_ends(ids, S):
    """Positions of EOS tokens (end of a document) with at least S tokens before them."""
    ends = np.nonzero(ids == 1)[0]
    return ends[ends >= S]


def batch(ids, ends, B, S, rng, end_frac):
    """B windows of S+1 tokens: with probability end_frac one that ends with a document's EOS
    (so chats are seen up to their final answer), else a random offset."""
    rows = []
    for _ in range(B):
        if rng.random() < end_frac:
            e = int(ends[rng.integers(0, len(ends))])
            rows.append(ids[e - S:e + 1])
        else:
            s = int(rng.integers(0, len(ids) - S - 1))
            rows.append(ids[s:s + S + 1])
    return torch.from_numpy(np.stack(rows).astype(np.int64))


def losses(model, chunk, mtp_stride=1):
    x = chunk[:, :-1]
    logits, mtp, aux = model(x, mtp_stride)
    V = logits.shape[-1]
    main = F.cross_entropy(logits.reshape(-1, V), chunk[:, 1:].reshape(-1))
    mtp_loss = F.cross_entropy(mtp.reshape(-1, V), chunk[:, 2::mtp_stride].reshape(-1)) \
        if mtp is not None else torch.zeros(())
    idx = torch.stack(aux).mean() if aux else torch.zeros(())
    return main, mtp_loss, idx


@torch.no_grad()
def heldout_loss(model, held, S, n_windows):
    tot, n = 0.0, 0
    for i in range(n_windows):
        s = i * S
        if s + S + 1 > len(held):
            break
        chunk = torch.from_numpy(held[s:s + S + 1].astype(np.int64))[None]
        main, _, _ = losses(model, chunk)
        tot += main.item() * S
        n += S
    return tot / max(n, 1)


def lr_at(progress, peak, warm_frac, min_ratio=0.05):
    if progress < warm_frac:
        return peak * progress / warm_frac
    p = min(1.0, (progress - warm_frac) / (1 - warm_frac))
    return peak * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * p)))


def param_groups(model, wd):
    decay, no_decay = [], []
    for name in model.names:
        p = model.t(name)
        if not isinstance(p, torch.nn.Parameter):
            continue
        (decay if p.dim() == 2 and not name.endswith("_fn") else no_decay).append(p)
    return [{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}]


def wait_while_locked(path):
    """Block until nobody holds the flock on path; returns the seconds spent waiting.
    The lock is only probed, never held during a step, so a benchmark taking it waits at most
    one training step."""
    waited = 0.0
    with open(path, "a") as f:
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(f, fcntl.LOCK_UN)
                return waited
            except BlockingIOError:
                time.sleep(2.0)
                waited += 2.0


def save(path, model, opt, step, elapsed, tokens):
    tmp = path + ".tmp"
    torch.save({"tensors": model.state_tensors(), "config": model.raw, "opt": opt.state_dict(),
                "step": step, "elapsed": elapsed, "tokens": tokens}, tmp)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--run", required=True)
    ap.add_argument("--steps", type=int, default=100000, help="upper bound; --minutes usually ends it")
    ap.add_argument("--minutes", type=float, default=75)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=1024)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=float, default=0.03, help="fraction of the run")
    ap.add_argument("--wd", type=float, default=0.1)
    ap.add_argument("--mtp-weight", type=float, default=0.3)
    ap.add_argument("--mtp-stride", type=int, default=4, help="MTP loss on every n-th position")
    ap.add_argument("--end-frac", type=float, default=0.7,
                    help="fraction of windows that end at a document end")
    ap.add_argument("--qat-frac", type=float, default=0.25)
    ap.add_argument("--bias-rate", type=float, default=1e-3)
    ap.add_argument("--eval-every", type=int, default=25)
    ap.add_argument("--eval-windows", type=int, default=4)
    ap.add_argument("--ckpt-minutes", type=float, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--init-from", default="",
                    help="start from this checkpoint's weights (fresh optimizer and schedule): "
                         "a second, shorter run continuing a finished one")
    ap.add_argument("--sliding-window", type=int, default=MINI["sliding_window"],
                    help="the attention window (runs 1-4 of the shipped model used 64; a mask "
                         "size, not a weight shape, so a run may change it from its --init-from)")
    ap.add_argument("--yield-to-lock", default="",
                    help="a flock(1) lock file: while another process holds it (a benchmark), "
                         "pause between steps so the measurement is not disturbed")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    os.makedirs(args.run, exist_ok=True)

    ids = load_ids(os.path.join(args.data, "train.json"))
    held = load_ids(os.path.join(args.data, "held.json"))
    ends = doc_ends(ids, args.seq)
    model = DSV4Train(dict(MINI, sliding_window=args.sliding_window), seed=args.seed)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{n_params / 1e6:.2f} M parameters; corpus {len(ids) / 1e6:.2f} M tokens", flush=True)
    opt = torch.optim.AdamW(param_groups(model, args.wd), lr=args.lr, betas=(0.9, 0.95), eps=1e-8)
    ckpt = os.path.join(args.run, "ckpt.pt")
    step, elapsed0, tokens = 0, 0.0, 0
    if args.resume and os.path.exists(ckpt):
        ck = torch.load(ckpt)
        for name, t in ck["tensors"].items():
            model.t(name).data.copy_(t)
        opt.load_state_dict(ck["opt"])
        step, elapsed0, tokens = ck["step"], ck["elapsed"], ck["tokens"]
        print(f"resumed at step {step}, {elapsed0 / 60:.1f} min", flush=True)
    elif args.init_from:
        for name, t in torch.load(args.init_from)["tensors"].items():
            model.t(name).data.copy_(t)
        print(f"weights from {args.init_from}", flush=True)
    rng = np.random.default_rng(args.seed + step + (7919 if args.init_from else 0))
    budget = args.minutes * 60
    log_path = os.path.join(args.run, "log.csv")
    new_log = not (args.resume and os.path.exists(log_path))
    logf = open(log_path, "w" if new_log else "a", newline="")
    log = csv.writer(logf)
    if new_log:
        log.writerow(["step", "minutes", "tokens", "lr", "loss", "main", "mtp", "index_kl", "qat",
                      "heldout"])
    t0 = time.time() - elapsed0
    last_ckpt = time.time()
    while step < args.steps:
        if args.yield_to_lock:
            t0 += wait_while_locked(args.yield_to_lock)   # paused time is not training time
        elapsed = time.time() - t0
        progress = max(step / args.steps, elapsed / budget)
        if progress >= 1:
            break
        model.qat = progress >= 1 - args.qat_frac
        lr = lr_at(progress, args.lr, args.warmup)
        for g in opt.param_groups:
            g["lr"] = lr
        chunk = batch(ids, ends, args.batch, args.seq, rng, args.end_frac)
        main_l, mtp_l, idx_l = losses(model, chunk, args.mtp_stride)
        loss = main_l + args.mtp_weight * mtp_l + idx_l
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        model.update_routing_bias(args.bias_rate)
        step += 1
        tokens += args.batch * args.seq
        hl = ""
        if step % args.eval_every == 0:
            hl = f"{heldout_loss(model, held, args.seq, args.eval_windows):.4f}"
        log.writerow([step, f"{(time.time() - t0) / 60:.2f}", tokens, f"{lr:.3e}",
                      f"{loss.item():.4f}", f"{main_l.item():.4f}", f"{mtp_l.item():.4f}",
                      f"{idx_l.item():.4f}", int(model.qat), hl])
        logf.flush()
        if step % 10 == 0 or hl:
            print(f"step {step} {(time.time() - t0) / 60:.1f} min lr {lr:.2e} loss {main_l.item():.3f} "
                  f"mtp {mtp_l.item():.3f} kl {idx_l.item():.3f} qat {int(model.qat)} "
                  f"{'held ' + hl if hl else ''} {tokens / (time.time() - t0):.0f} tok/s", flush=True)
        if time.time() - last_ckpt > args.ckpt_minutes * 60:
            save(ckpt, model, opt, step, time.time() - t0, tokens)
            last_ckpt = time.time()
    model.qat = True
    hl = heldout_loss(model, held, args.seq, args.eval_windows)
    save(ckpt, model, opt, step, time.time() - t0, tokens)
    print(f"done: {step} steps, {tokens / 1e6:.2f} M tokens, {(time.time() - t0) / 60:.1f} min, "
          f"heldout loss (QAT) {hl:.4f}", flush=True)


if __name__ == "__main__":
    main()
