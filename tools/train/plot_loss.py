"""Plot a train.py log.csv (training loss, MTP loss, held-out loss) to a PNG.

    /usr/bin/python3 tools/train/plot_loss.py RUN/log.csv models/dsv4-mini/loss.png
"""
import csv
import sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    rows = list(csv.DictReader(open(sys.argv[1])))
    tok = [int(r["tokens"]) / 1e6 for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    ax.plot(tok, [float(r["main"]) for r in rows], lw=0.8, label="train: next token")
    ax.plot(tok, [float(r["mtp"]) for r in rows], lw=0.8, alpha=0.7, label="train: MTP (next-next)")
    held = [(t, float(r["heldout"])) for t, r in zip(tok, rows) if r["heldout"]]
    if held:
        ax.plot(*zip(*held), "o-", ms=3, label="held-out: next token")
    # one shaded span per stretch of QAT rows (a joined log of two runs has two)
    label = "QAT (FP8/FP4 fake quant)"
    start = None
    for i, r in enumerate(rows):
        if r["qat"] == "1" and start is None:
            start = tok[i]
        last_of_stretch = r["qat"] == "1" and (i + 1 == len(rows) or rows[i + 1]["qat"] != "1")
        if last_of_stretch:
            ax.axvspan(start, tok[i], color="grey", alpha=0.15, label=label)
            start, label = None, None
    ax.set_xlabel("training tokens (M)")
    ax.set_ylabel("cross-entropy (nats)")
    ax.set_title("dsv4-mini training")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(sys.argv[2])


if __name__ == "__main__":
    main()
