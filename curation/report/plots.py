"""The report's figures, drawn with matplotlib's non-interactive Agg backend, one PNG each."""

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

DPI = 100


def _save(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def rank_plot(counts: np.ndarray, curated: np.ndarray, t: float) -> bytes:
    """Entry counts by rank, log-log, before and after balancing, with t and the head/tail split."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    before = np.sort(counts[counts > 0])[::-1]
    after = np.sort(curated[curated > 0])[::-1]
    ax.loglog(np.arange(1, len(before) + 1), before, label="pool (before)", lw=2)
    if len(after):
        ax.loglog(np.arange(1, len(after) + 1), after, label="curated (after)", lw=2)
    ax.axhline(t, color="red", ls="--", lw=1, label=f"t = {t:g}")
    head = int((before > t).sum())
    if head:
        ax.axvline(head + 0.5, color="grey", ls=":", lw=1, label=f"head/tail split ({head} entries above t)")
    ax.set_xlabel("entry rank")
    ax.set_ylabel("matched texts")
    ax.set_title("Entry counts by rank")
    ax.legend(fontsize=8)
    return _save(fig)


def histogram_plot(matches_per_text: list[int]) -> bytes:
    """Number of texts by number of matched entries."""
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ks = np.arange(len(matches_per_text))
    ax.bar(ks, matches_per_text, color="#4c72b0")
    ax.set_yscale("log" if max(matches_per_text, default=0) > 100 else "linear")
    ax.set_xlabel("entries matched by a text")
    ax.set_ylabel("texts")
    ax.set_title("Matches per text")
    return _save(fig)


def accounting_plot(card: dict) -> bytes:
    """Pool rows by outcome, and the curated size against the pool."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(8, 3.4))
    labels = ["matched", "unmatched", "rejected"]
    values = [card["matched_rows"], card["unmatched_rows"], card["rejected_rows"]]
    colors = ["#55a868", "#c44e52", "#8172b2"]
    a.bar(labels, values, color=colors)
    a.set_title("Pool rows")
    b.bar(["pool", "matched", "curated"], [card["pool_rows"], card["matched_rows"], card["curated_rows"]],
          color=["#4c72b0", "#55a868", "#dd8452"])
    b.set_title("Curated size vs pool")
    for ax in (a, b):
        ax.tick_params(axis="x", labelsize=8)
    return _save(fig)


def quality_plot(histograms: dict, min_quality: float | None) -> bytes:
    """Share of each language's texts by quality score (equal bins of [0, 1])."""
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for lang, counts in sorted(histograms.items(), key=lambda kv: -sum(kv[1]))[:8]:
        counts = np.asarray(counts, dtype=float)
        edges = (np.arange(len(counts)) + 0.5) / len(counts)
        ax.plot(edges, counts / max(counts.sum(), 1), marker=".", label=f"{lang or '(none)'} ({int(counts.sum()):,})")
    if min_quality is not None:
        ax.axvline(min_quality, color="#c44e52", linestyle="--", label=f"--min-quality {min_quality:g}")
    ax.set_xlabel("quality score")
    ax.set_ylabel("share of texts")
    ax.set_title("Alt-text quality by language")
    ax.legend(fontsize=7)
    return _save(fig)


def bar_plot(labels: list[str], before: list[int], after: list[int], title: str) -> bytes:
    """Grouped bars: matches before and after balancing, by group (language or source)."""
    fig, ax = plt.subplots(figsize=(max(5, 0.8 * len(labels) + 2), 3.4))
    x = np.arange(len(labels))
    ax.bar(x - 0.2, before, 0.4, label="before")
    ax.bar(x + 0.2, after, 0.4, label="after")
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_ylabel("matches")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return _save(fig)


MAX_THUMBNAIL_SOURCE_PIXELS = 40_000_000


def thumbnail(image_bytes: bytes, size: int = 128) -> bytes | None:
    """A PNG thumbnail of an encoded image, or None when it cannot be made: undecodable, or
    larger than ``MAX_THUMBNAIL_SOURCE_PIXELS`` (read from the header, before decoding)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(image_bytes)) as img:
            if img.width * img.height > MAX_THUMBNAIL_SOURCE_PIXELS:
                return None
            img = img.convert("RGB")
            img.thumbnail((size, size))
            buf = io.BytesIO()
            img.save(buf, format="PNG")
            return buf.getvalue()
    except (UnidentifiedImageError, OSError, ValueError, MemoryError, Image.DecompressionBombError):
        return None


def experiment_plot(arms: list[str], datasets: list[str], values: list[list[float]], metric: str) -> bytes:
    """Grouped bars: one group per evaluation data set, one bar per arm (curated, baseline)."""
    fig, ax = plt.subplots(figsize=(max(5, 1.6 * len(datasets) + 2), 3.4))
    x = np.arange(len(datasets))
    width = 0.8 / max(1, len(arms))
    for i, (arm, row) in enumerate(zip(arms, values)):
        ax.bar(x + (i - (len(arms) - 1) / 2) * width, row, width, label=arm)
    ax.set_xticks(x, datasets, fontsize=8)
    ax.set_ylabel(metric)
    ax.set_title(f"{metric}: curated against the uniform baseline")
    ax.legend(fontsize=8)
    return _save(fig)
