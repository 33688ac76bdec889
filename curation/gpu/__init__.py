"""GPU hand-off stages (embed, index, dedup, train). torch, open_clip and faiss are imported
only here, lazily, and every stage also runs on the CPU."""
